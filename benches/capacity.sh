#!/usr/bin/env bash
# Capacity, for sizing a deployment (README: "Capacity"):
#   1. requests/s and server CPU per request on one core, per rule language: the server pinned to
#      core 0, wrk (8 connections) to core 1, the email-domain rule of each language;
#   2. memory: the server's resident memory with that one rule loaded, after the run;
#   3. memory per call in flight: the password-import rule of each language waiting on a slow
#      legacy store (a local stand-in that answers after 1 s), 100 calls at once, so 100
#      instances are alive; (resident memory then - before) / 100.
# Needs wrk, taskset, python3 and the release build with every rule (make build). Run from the
# repository root:
#   benches/capacity.sh [seconds per run, default 10]
set -euo pipefail
seconds=${1:-10}
port=18095
store_port=18096
target=$PWD/rules/target
dir=$(mktemp -d)
server= store=
trap 'kill $server $store 2>/dev/null || true; rm -rf "$dir"' EXIT

rule_of() { # language rule
  case $1 in
    rust) echo "$target/wasm32-wasip2/release/$2.wasm" ;;
    *) echo "$target/$1/$2.wasm" ;;
  esac
}
start() { # pin config; the rule compiled beforehand by `check` (into the cache), as a restarted
  # server finds it: compiling a Python rule leaves hundreds of MiB resident in the compiling process.
  ./target/release/wasmhook check --config "$2" > /dev/null
  RUST_LOG=warn taskset -c "$1" ./target/release/wasmhook serve --config "$2" 2>/dev/null & server=$!
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p"; }
head_toml() { # tenant-limits
  cat <<TOML
listen = "127.0.0.1:$port"
cache_dir = "$dir/cache"
[limits]
deadline_ms = 3000
[tenants.t]
max_concurrent_evaluations = 256
[tenants.t.auth]
type = "header-secret"
header = "authorization"
secrets = ["Basic YWRtaW46c3VwZXJzZWNyZXQ="]
TOML
}

echo "| rule language (server on 1 core, wrk 8 connections, ${seconds} s) | requests/s | p99 | server CPU per request | resident memory after |"
echo "|---|---|---|---|---|"
fixture=$PWD/tests/fixtures/okta/registration-ssr-oie.json
for language in rust c javascript python; do
  { head_toml; cat <<TOML
[[tenants.t.routes]]
event_type = "com.okta.user.pre-registration"
rule = "$(rule_of $language email_domain)"
settings = { allowed_domains = ["example.com"] }
TOML
  } > "$dir/config.toml"
  start 0 "$dir/config.toml"
  before=$(cpu_ticks)
  out=$(taskset -c 1 wrk -t1 -c8 -d"${seconds}"s --latency -s benches/post.lua "http://127.0.0.1:$port/hooks/t" -- "$fixture")
  after=$(cpu_ticks)
  rps=$(field rps <<< "$out"); p99=$(field p99 <<< "$out"); took=$(field seconds <<< "$out")
  # Clock ticks are 10 ms; CPU per request in µs.
  cpu=$(bc -l <<< "($after - $before) * 10000 / ($rps * $took)")
  printf '| %s | %s | %.2f ms | %.1f µs | %.1f MiB |\n' "$language" "$rps" "$(bc -l <<< "$p99 / 1000")" "$cpu" \
    "$(bc -l <<< "$(rss_kib) / 1024")"
  stop
done

# The legacy store stand-in: answers every POST with 200 after a second, whatever it holds.
python3 - "$store_port" <<'PY' & store=$!
import asyncio, sys
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")), 0)
            await reader.readexactly(length)
            await asyncio.sleep(1)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    await server.serve_forever()
asyncio.run(main())
PY
until (exec 3<>/dev/tcp/127.0.0.1/$store_port) 2>/dev/null; do sleep 0.05; done

echo
echo "| password import rule waiting 1 s on its store, 100 calls in flight | answered/s | resident memory before | in flight | per call in flight |"
echo "|---|---|---|---|---|"
fixture=$PWD/tests/fixtures/okta/password-import.json
for language in rust javascript python; do
  { head_toml; cat <<TOML
[[tenants.t.routes]]
event_type = "com.okta.user.credential.password.import"
rule = "$(rule_of $language password_legacy_store)"
settings = { verify_url = "http://127.0.0.1:$store_port/verify" }
allowed_outbound_hosts = ["http://127.0.0.1:$store_port"]
TOML
  } > "$dir/config.toml"
  start 0-1 "$dir/config.toml"
  curl -sf "http://127.0.0.1:$port/hooks/t" -H 'authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ=' --data @"$fixture" >/dev/null
  idle=$(rss_kib)
  wrk -t2 -c100 -d6s --timeout 5s -s benches/post.lua "http://127.0.0.1:$port/hooks/t" -- "$fixture" > "$dir/wrk" & load=$!
  sleep 4
  busy=$(rss_kib)
  wait $load
  printf '| %s | %s | %.1f MiB | %.1f MiB | %.0f KiB |\n' "$language" "$(field rps < "$dir/wrk")" \
    "$(bc -l <<< "$idle / 1024")" "$(bc -l <<< "$busy / 1024")" "$(bc -l <<< "($busy - $idle) / 100")"
  stop
done
