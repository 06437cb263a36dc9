#!/usr/bin/env bash
# Bursts: how many concurrent connections one tenant can hold against a rule in each language
# with no call failed (the failure policy's answer counts as failed, although it is a 200), and
# the server's peak memory. One tenant per language, `max_concurrent_evaluations = 1000`, the
# default 1 s deadline; wrk with 2 threads. Needs wrk and the release build with every rule
# (make build); WASMHOOK=path/to/wasmhook compares another build. Prints a table; run from the
# repository root:
#   benches/burst.sh [seconds per run, default 5] [connections..., default 200 1200]
set -euo pipefail
seconds=${1:-5}
shift || true
connections=("${@:-200}")
[ $# -gt 0 ] || connections=(200 1200)
port=18091
binary=${WASMHOOK:-./target/release/wasmhook}
target=$PWD/rules/target
fixture=$PWD/tests/fixtures/okta/registration-ssr-oie.json
dir=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT

tenant() { # id rule
  cat <<TOML
[tenants.$1]
max_concurrent_evaluations = 1000
[tenants.$1.auth]
type = "header-secret"
header = "authorization"
secrets = ["Basic YWRtaW46c3VwZXJzZWNyZXQ="]
[[tenants.$1.routes]]
event_type = "com.okta.user.pre-registration"
rule = "$target/$2"
settings = { allowed_domains = ["example.com"] }
TOML
}

echo "| rule | connections | requests/s | p99 | failed answers | server peak RSS |"
echo "|---|---|---|---|---|---|"
for language in rust:wasm32-wasip2/release/email_domain.wasm c:c/email_domain.wasm \
  javascript:javascript/email_domain.wasm python:python/email_domain.wasm; do
  name=${language%%:*}
  for count in "${connections[@]}"; do
    { echo "listen = \"127.0.0.1:$port\""; tenant "$name" "${language#*:}"; } > "$dir/config.toml"
    RUST_LOG=error "$binary" serve --config "$dir/config.toml" 2>/dev/null & server=$!
    until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
    result=$(wrk -t2 -c"$count" -d"$seconds"s --latency -s benches/post.lua \
      "http://127.0.0.1:$port/hooks/$name" -- "$fixture" | grep '^RESULT')
    failed=$(curl -s "http://127.0.0.1:$port/metrics" |
      awk '/^wasmhook_rule_failures_total/ {sum += $2} END {print sum + 0}')
    peak=$(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$server/status")
    kill "$server"; wait "$server" 2>/dev/null || true
    rps=$(sed -n 's/.* rps=\([^ ]*\).*/\1/p' <<< "$result")
    p99=$(sed -n 's/.* p99=\([^ ]*\).*/\1/p' <<< "$result")
    printf '| %s | %s | %s | %.1f ms | %s | %s |\n' "$name" "$count" "$rps" "$(bc -l <<< "$p99 / 1000")" "$failed" "$peak"
  done
done
