-- wrk script: POST an Okta hook payload with the quickstart credentials.
-- Usage: wrk -s benches/post.lua http://127.0.0.1:8080/hooks/demo -- <payload.json>
function init(args)
  local file = assert(io.open(args[1], "r"))
  wrk.body = file:read("*a")
  file:close()
end
wrk.method = "POST"
wrk.headers["authorization"] = "Basic YWRtaW46c3VwZXJzZWNyZXQ="
wrk.headers["content-type"] = "application/json"

-- One machine-readable line at the end: requests/s and latency percentiles in microseconds.
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f seconds=%.3f p50=%d p99=%d p999=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
