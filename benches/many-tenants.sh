#!/usr/bin/env bash
# Start-up time and memory with many tenants sharing 3 rule modules. Needs curl and the release
# build (make build). Run from the repository root:
#   benches/many-tenants.sh [tenants, default 1000]
set -euo pipefail
tenants=${1:-1000}
port=18097
rules=$PWD/rules/target/wasm32-wasip2/release
dir=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$dir"' EXIT

{
  echo "listen = \"127.0.0.1:$port\""
  echo "cache_dir = \"$dir/cache\""
  for i in $(seq "$tenants"); do
    cat <<TOML
[tenants.t$i.auth]
type = "header-secret"
header = "authorization"
secrets = ["secret-$i"]
[[tenants.t$i.routes]]
event_type = "com.okta.user.pre-registration"
request_type = "self.service.registration"
rule = "$rules/email_domain.wasm"
settings = { allowed_domains = ["tenant$i.example.com"] }
[[tenants.t$i.routes]]
event_type = "com.okta.user.pre-registration"
request_type = "progressive.profile"
rule = "$rules/$( (( i % 2 )) && echo employee_number || echo misbehave ).wasm"
settings = { behaviour = "allow" }
TOML
  done
} > "$dir/config.toml"

start() { # sets $server and $took (ms from exec to the first answer)
  local started=$(date +%s%N)
  RUST_LOG=warn ./target/release/wasmhook serve --config "$dir/config.toml" >/dev/null & server=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do kill -0 $server; sleep 0.005; done
  took=$(( ($(date +%s%N) - started) / 1000000 ))
}
start; cold=$took; kill $server; wait $server 2>/dev/null || true
start; warm=$took
rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server/status")
body=$(sed "s/@example.com/@tenant$tenants.example.com/g" tests/fixtures/okta/registration-ssr-oie.json)
answer=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: secret-$tenants" --data "$body" "http://127.0.0.1:$port/hooks/t$tenants")

echo "| $tenants tenants, 2 routes each, 3 distinct modules | value |"
echo "|---|---|"
echo "| start-up to first answer, empty compile cache | $cold ms |"
echo "| start-up to first answer, warm compile cache | $warm ms |"
echo "| RSS after start-up | $rss MiB |"
echo "| last tenant answers its own allowed domain | $answer |"
