-- Prints wrk's own summary as one JSON line, for test/bench/lib/wrk.ts.
-- Only done() is defined: a per-request response() hook would make wrk itself slower.
-- Latencies are wrk's, in microseconds, from its histogram over every request.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'GATEHOUSE_WRK_JSON {"durationUs":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
