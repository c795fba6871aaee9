-- wrk script for the identity section: client-credentials grants, each on a new TLS connection.
--
--   wrk ... -s identity-grants.lua <url> -- <base64 of client_id:client_secret> [keep-alive]
--
-- Every request says `Connection: close`, so the server closes after its answer and wrk
-- opens (and TLS-handshakes) a new connection for the next grant: no session resumption,
-- because wrk keeps no TLS sessions. With `keep-alive`, connections are reused instead
-- (to show what the handshakes cost). done() prints the summary as wrk-report.lua does
-- (parsed by lib/wrk.ts).

init = function(args)
  wrk.method = 'POST'
  wrk.path = '/oidc/token'
  wrk.body = 'grant_type=client_credentials'
  wrk.headers['Authorization'] = 'Basic ' .. args[1]
  wrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'
  if args[2] ~= 'keep-alive' then wrk.headers['Connection'] = 'close' end
end

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
