#!/usr/bin/env bash
# Noisy neighbour: a healthy tenant's latency with and without a hostile tenant next to it, and
# the server's memory before and after many hostile calls. Needs wrk (apt-get install wrk) and the
# release build (make build). Prints a table; run from the repository root:
#   benches/noisy-neighbour.sh [seconds per run, default 10]
set -euo pipefail
seconds=${1:-10}
port=18090
rules=$PWD/rules/target/wasm32-wasip2/release
fixture=$PWD/tests/fixtures/okta/registration-ssr-oie.json
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT

tenant() { # id rule settings limits
  cat <<TOML
[tenants.$1.auth]
type = "header-secret"
header = "authorization"
secrets = ["Basic YWRtaW46c3VwZXJzZWNyZXQ="]
[[tenants.$1.routes]]
event_type = "com.okta.user.pre-registration"
rule = "$rules/$2.wasm"
settings = $3
limits = $4
TOML
}
{
  echo "listen = \"127.0.0.1:$port\""
  tenant healthy email_domain '{ allowed_domains = ["example.com"] }' '{}'
  tenant loop misbehave '{ behaviour = "loop" }' '{ deadline_ms = 50 }'
  tenant allocate misbehave '{ behaviour = "allocate" }' '{ max_memory_mb = 32 }'
  tenant panic misbehave '{ behaviour = "panic" }' '{}'
} > "$dir/config.toml"

RUST_LOG=warn ./target/release/wasmhook serve --config "$dir/config.toml" 2> "${SERVER_LOG:-/dev/stderr}" & server=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
rss() { awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$server/status"; }
load() { # tenant connections seconds
  wrk -t1 -c"$2" -d"$3"s --latency -s benches/post.lua "http://127.0.0.1:$port/hooks/$1" -- "$fixture"
}
p99() { awk '$1 == "99%" {print $2}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }
requests() { awk '/requests in/ {print $1}'; }

alone=$(load healthy 4 "$seconds")
rss_before=$(rss)
load loop 2 "$seconds" > "$dir/loop" & load allocate 2 "$seconds" > "$dir/allocate" & load panic 2 "$seconds" > "$dir/panic" &
beside=$(load healthy 4 "$seconds")
wait %2 %3 %4 2>/dev/null || wait
rss_after=$(rss)
hostile=$(( $(requests < "$dir/loop") + $(requests < "$dir/allocate") + $(requests < "$dir/panic") ))

echo
echo "| healthy tenant (4 connections, ${seconds} s) | p99 | requests/s |"
echo "|---|---|---|"
echo "| alone | $(p99 <<< "$alone") | $(rps <<< "$alone") |"
echo "| beside a hostile tenant (loop, allocate, panic; 2 connections each) | $(p99 <<< "$beside") | $(rps <<< "$beside") |"
echo
echo "hostile calls answered: $hostile (loop $(requests < "$dir/loop"), allocate $(requests < "$dir/allocate"), panic $(requests < "$dir/panic"))"
echo "server RSS before: $rss_before, after: $rss_after"
