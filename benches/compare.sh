#!/usr/bin/env bash
# Two builds of the server side by side, for judging one change on a noisy machine: A and B take
# turns serving the quickstart's registration route (the Rust email-domain rule, the default
# `info` log line per call written to a file) under wrk, 8 connections, for a number of rounds;
# the table gives each round and the medians of requests/s and server CPU per request (the
# process's user + system time over the requests it answered).
#   benches/compare.sh <binary A> <binary B> [rounds, default 5] [seconds, default 5]
# e.g. cp target/release/wasmhook /tmp/before; (change, cargo build --release);
#      benches/compare.sh /tmp/before target/release/wasmhook
set -euo pipefail
a=$1 b=$2 rounds=${3:-5} seconds=${4:-5}
port=18094
dir=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/config.toml" <<TOML
listen = "127.0.0.1:$port"
cache_dir = "$dir/cache"
[tenants.demo.auth]
type = "header-secret"
header = "authorization"
secrets = ["Basic YWRtaW46c3VwZXJzZWNyZXQ="]
[[tenants.demo.routes]]
event_type = "com.okta.user.pre-registration"
rule = "$PWD/rules/target/wasm32-wasip2/release/email_domain.wasm"
settings = { allowed_domains = ["example.com"] }
TOML
fixture=$PWD/tests/fixtures/okta/registration-ssr-oie.json
field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run() { # binary -> "rps cpu_us"
  "$1" serve --config "$dir/config.toml" 2> "$dir/log" & server=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
  local before after out rps took
  before=$(awk '{print $14 + $15}' "/proc/$server/stat")
  out=$(wrk -t1 -c8 -d"${seconds}"s -s benches/post.lua "http://127.0.0.1:$port/hooks/demo" -- "$fixture")
  after=$(awk '{print $14 + $15}' "/proc/$server/stat")
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  rps=$(field rps <<< "$out"); took=$(field seconds <<< "$out")
  echo "$rps $(bc -l <<< "($after - $before) * 10000 / ($rps * $took)")"
}

echo "| round (${seconds} s each) | A: requests/s | A: CPU per request | B: requests/s | B: CPU per request | B/A requests/s | B/A CPU |"
echo "|---|---|---|---|---|---|---|"
: > "$dir/rows"
for round in $(seq "$rounds"); do
  read -r ra ca <<< "$(run "$a")"
  read -r rb cb <<< "$(run "$b")"
  echo "$ra $ca $rb $cb $(bc -l <<< "$rb / $ra") $(bc -l <<< "$cb / $ca")" >> "$dir/rows"
  printf '| %d | %s | %.1f µs | %s | %.1f µs | %.3f | %.3f |\n' "$round" "$ra" "$ca" "$rb" "$cb" \
    "$(bc -l <<< "$rb / $ra")" "$(bc -l <<< "$cb / $ca")"
done
m() { cut -d' ' -f"$1" "$dir/rows" | median; }
printf '| median | %.0f | %.1f µs | %.0f | %.1f µs | **%.3f** | **%.3f** |\n' "$(m 1)" "$(m 2)" "$(m 3)" "$(m 4)" "$(m 5)" "$(m 6)"
