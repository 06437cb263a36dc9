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
