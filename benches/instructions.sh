#!/usr/bin/env bash
# Instructions per request, which repeat from run to run where time does not (a shared machine,
# another machine of the same kind): the servers of the end-to-end bench (native handler, bare
# hyper, wasmhook with its rule sandboxed) run in one process under valgrind's callgrind, and each
# is sent the same fixed number of requests (after a warm-up) on 8 kept-alive connections; the
# counters are zeroed before and dumped after each server's requests, so a figure holds all the
# process spent serving them (every thread, the kernel's work excepted). wasmhook runs twice:
# with logging off, and with its default `info` line per call.
# The pool is cut to 4 slots (WASMHOOK_POOL_SLOTS): valgrind cannot map much more than 32 GiB, and
# each slot reserves 8. The first run compiles the rules anew (valgrind shows the compiler other CPU
# features), which takes a few minutes; later runs find them in the cache.
# Needs valgrind and python3; run from the repository root:
#   benches/instructions.sh [requests per server, default 2000] [end_to_end bench binary]
# The second argument measures another build of the bench (an earlier commit's, built in a git
# worktree with its `serve` mode), for a before/after from one machine.
set -euo pipefail
requests=${1:-2000}
dir=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
bench=${2:-}
[ -n "$bench" ] || bench=$(cargo bench --quiet -p wasmhook --bench end_to_end --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "end_to_end" and m.get("executable"):
        print(m["executable"])')

# Sends N requests over 8 kept-alive connections (a new one when the server closes one: the bare
# server does after each call, as it never reads the body) and checks every answer's status.
client() { # address count
  python3 - "$1" "$2" "$PWD/tests/fixtures/okta/registration-ssr-oie.json" <<'PY'
import http.client, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
count, body = int(sys.argv[2]), open(sys.argv[3], "rb").read()
headers = {"authorization": "Basic YWRtaW46c3VwZXJzZWNyZXQ=", "content-type": "application/json"}
failed = []
def work(n):
    connection = None
    while n > 0:
        try:
            connection = connection or http.client.HTTPConnection(host, int(port), timeout=60)
            connection.request("POST", "/hooks/demo", body, headers)
            response = connection.getresponse()
            response.read()
        except (ConnectionError, http.client.HTTPException):
            connection = None
            continue
        if response.status not in (200, 204):
            failed.append(response.status)
        if response.getheader("connection", "").lower() == "close":
            connection = None
        n -= 1
threads = [threading.Thread(target=work, args=(count // 8 + (i < count % 8),)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
if failed:
    sys.exit(f"{len(failed)} calls failed: {failed[:5]}")
PY
}

# Instructions of every thread since the last zeroing, from the dump named $1.
dumped() { grep -l "^desc: Trigger: dump $1\$" "$dir"/cg.out.* | xargs awk '/^summary:/ {s += $2} END {print s}'; }

echo "| server (${requests} requests, 8 kept-alive connections, under callgrind) | instructions per request | vs native |"
echo "|---|---|---|"
native=
for level in off info; do
  WASMHOOK_POOL_SLOTS=4 valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out.%p" \
    "$bench" serve "$level" > "$dir/serving" 2> "$dir/valgrind.log" & pid=$!
  until grep -q SERVING "$dir/serving" 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { cat "$dir/valgrind.log" >&2; exit 1; }
    sleep 0.5
  done
  servers=(native bare wasmhook)
  [ "$level" = info ] && servers=(wasmhook)
  for server in "${servers[@]}"; do
    address=$(sed -n "s/.* $server=\([^ ]*\).*/\1/p" "$dir/serving")
    client "$address" 200
    callgrind_control --zero $pid > /dev/null
    client "$address" "$requests"
    callgrind_control --dump="$server-$level" $pid > /dev/null
    per=$(( $(dumped "$server-$level") / requests ))
    [ -z "$native" ] && native=$per
    case $server-$level in
      native-off) label="(b) native handler (ceiling)" ;;
      bare-off) label="(c) bare hyper 204 (limit)" ;;
      wasmhook-off) label="(a) wasmhook, wasm rule, logging off" ;;
      wasmhook-info) label="(a) wasmhook, wasm rule, a log line per call (default)" ;;
    esac
    printf '| %s | %d | %.2f× |\n' "$label" "$per" "$(bc -l <<< "$per / $native")"
  done
  kill $pid; wait $pid 2>/dev/null || true; pid=
done
