#!/usr/bin/env bash
# Reload latency and cold start. Needs curl, hyperfine (apt-get install hyperfine) and the release
# build (make build). Run from the repository root:
#   benches/reload.sh [swaps, default 40] [more rule.wasm files to time cold starts with, e.g. Python and JavaScript rules]
# Reload latency: a rule file is replaced (rename) and the time until a call is answered by the new
# version is measured by polling. Cold start: start-up to the first ready answer, with a warm
# compile cache and with the cache disabled.
set -euo pipefail
swaps=${1:-40}
more=()
for rule in "${@:2}"; do more+=("$(realpath "$rule")"); done
port=18095
rules=$PWD/rules/target/wasm32-wasip2/release
fixture=$(sed 's/@example.com/@example.org/g' tests/fixtures/okta/registration-ssr-oie.json)
dir=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -rf "$dir"' EXIT

config() { # cache_dir rule
  cat <<TOML
listen = "127.0.0.1:$port"
cache_dir = "$1"
[tenants.t.auth]
type = "header-secret"
header = "authorization"
secrets = ["Basic YWRtaW46c3VwZXJzZWNyZXQ="]
[[tenants.t.routes]]
event_type = "com.okta.user.pre-registration"
rule = "$2"
settings = { allowed_domains = ["example.com"] }
TOML
}
status() {
  curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ=' \
    --data "$fixture" "http://127.0.0.1:$port/hooks/t"
}
now_ms() { date +%s%3N; }
percentile() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int((NR-1)*p/100)+1; print a[i]}'; }

# Reload latency: email-domain (denies: 200) and employee-number (allows: 204) swapped in turn.
cp "$rules/email_domain.wasm" "$dir/rule.wasm"
config "$dir/cache" rule.wasm > "$dir/config.toml"
RUST_LOG=warn ./target/release/wasmhook serve --config "$dir/config.toml" & server=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.02; done
: > "$dir/latencies"
for i in $(seq "$swaps"); do
  if (( i % 2 )); then next=employee_number; want=204; else next=email_domain; want=200; fi
  cp "$rules/$next.wasm" "$dir/rule.tmp"
  start=$(now_ms)
  mv "$dir/rule.tmp" "$dir/rule.wasm"
  until [ "$(status)" = "$want" ]; do :; done
  echo $(( $(now_ms) - start )) >> "$dir/latencies"
  sleep 0.2
done
kill $server; wait $server 2>/dev/null || true; server=

echo "| reload latency ($swaps swaps, file renamed -> new version answering) | p50 | p99 | max |"
echo "|---|---|---|---|"
echo "| small Rust rule ($(du -k "$rules/email_domain.wasm" | cut -f1) KB) | $(percentile 50 < "$dir/latencies") ms | $(percentile 99 < "$dir/latencies") ms | $(sort -n "$dir/latencies" | tail -1) ms |"
echo

# Cold start: exec -> first ready answer.
cat > "$dir/start.sh" <<SH
#!/usr/bin/env bash
RUST_LOG=warn $PWD/target/release/wasmhook serve --config "\$1" & pid=\$!
until curl -sf http://127.0.0.1:$port/readyz >/dev/null; do kill -0 \$pid || exit 1; sleep 0.005; done
kill \$pid; wait \$pid 2>/dev/null || true
SH
chmod +x "$dir/start.sh"
echo "| cold start (exec -> first ready answer) | warm compile cache | cache disabled |"
echo "|---|---|---|"
for rule in "$rules/email_domain.wasm" "${more[@]}"; do
  config "$dir/cache" "$rule" > "$dir/cached.toml"
  config "" "$rule" > "$dir/uncached.toml"
  "$dir/start.sh" "$dir/cached.toml"  # fills the cache
  hyperfine -N -w 1 -r 10 --export-json "$dir/times.json" "$dir/start.sh $dir/cached.toml" "$dir/start.sh $dir/uncached.toml" >/dev/null 2>&1 ||
    hyperfine -w 1 -r 10 --export-json "$dir/times.json" "$dir/start.sh $dir/cached.toml" "$dir/start.sh $dir/uncached.toml" >/dev/null
  read -r cached uncached < <(python3 -c "import json,sys; r=json.load(open('$dir/times.json'))['results']; print(*(f\"{x['mean']*1e3:.0f} ms ± {x['stddev']*1e3:.0f}\" .replace(' ','_') for x in r))")
  echo "| ${rule#"$PWD/rules/target/"} ($(du -k "$rule" | cut -f1) KB) | ${cached//_/ } | ${uncached//_/ } |"
done
