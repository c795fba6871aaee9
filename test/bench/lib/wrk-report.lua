-- Prints wrk's own summary as one JSON line, for test/bench/lib/wrk.ts.
-- Only done() is defined: a per-request response() hook would make wrk itself slower.
-- Latencies are wrk's, in microseconds, from its histogram over every request. %.0f, not %d:
-- Lua 5.1's %d goes through a C int and turns large counts negative.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'GATEHOUSE_WRK_JSON {"durationUs":%.0f,"requests":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latencyUs":{"min":%.0f,"mean":%.1f,"max":%.0f,"stdev":%.1f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
