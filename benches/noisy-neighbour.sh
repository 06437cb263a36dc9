#!/usr/bin/env bash
# Noisy neighbour: a healthy tenant under closed-loop load (wrk, 4 connections) alone, then beside
# three hostile tenants (a rule that loops to its 50 ms deadline, one that allocates past its
# 32 MB cap, one that panics) on the same 2 cores:
#   - open loop, as Okta calls: each hostile tenant called 100 times a second (benches/open_loop.rs,
#     one light process for all), with the default circuit breaker, and with breakers off (the CPU
#     fair share alone holds the line);
#   - closed loop, as before: 2 wrk connections per hostile tenant, breakers off;
#   - the control: three calm tenants (the healthy rule) called 100 times a second each, which
#     shows what the open-loop clients themselves cost the healthy tenant on the shared cores.
# Every healthy answer is checked (non-2xx answers count as errors). Needs wrk and the release
# build (make build). Prints a table; run from the repository root:
#   benches/noisy-neighbour.sh [seconds per run, default 10]
# On a shared machine one pair of runs is noise as much as effect; with `rounds N`, the healthy
# tenant alone, beside the calm tenants (the control) and beside the hostile tenants (open loop,
# default breaker) alternate N times, each round on a fresh server (so every hostile run includes
# the breakers opening), and the table gives each round's ratios to the run alone just before,
# their medians, and how many rounds were over 2× the p99 alone:
#   benches/noisy-neighbour.sh 20 rounds 5
# WASMHOOK names the server binary (default target/release/wasmhook), to compare two builds;
# HOSTILE the hostile tenants called (default "loop allocate panic"), to see what each costs.
# SERVER_LOG names where the servers' logs go (appended to; default stderr, e.g. /dev/null).
# ISOLATED=1 adds to each round the hostile tenants served by a second server of their own at the
# lowest OS priority (nice 19): the healthy tenant's server then shares only the machine with them,
# and the kernel gives them the cores only when nothing else wants them. That is more isolation
# than any fair share inside one process gives, so it shows what is left that the server cannot
# remove (the cores and memory shared with the clients, the machine's own noise).
# CLIENT=closed_loop loads the healthy tenant with benches/closed_loop.rs instead of wrk (same 4
# connections, one thread): it times every call, so the single run also shows, beside the calm
# and the hostile tenants, the first second (where the breakers open) and the rest apart, with
# how many calls took over twice the p99 alone against the 1% of calls a p99 allows.
set -euo pipefail
seconds=${1:-10}
rounds=${3:-0}
port=18090
rules=$PWD/rules/target/wasm32-wasip2/release
fixture=$PWD/tests/fixtures/okta/registration-ssr-oie.json
dir=$(mktemp -d)
server=
isolated=
trap 'kill $server $isolated 2>/dev/null || true; rm -rf "$dir"' EXIT

tenant() { # id rule settings limits breaker
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
circuit_breaker = $5
TOML
}
config() { # breaker settings for the hostile tenants [port]
  echo "listen = \"127.0.0.1:${2:-$port}\""
  tenant healthy email_domain '{ allowed_domains = ["example.com"] }' '{}' '{}'
  tenant loop misbehave '{ behaviour = "loop" }' '{ deadline_ms = 50 }' "$1"
  tenant allocate misbehave '{ behaviour = "allocate" }' '{ max_memory_mb = 32 }' "$1"
  tenant panic misbehave '{ behaviour = "panic" }' '{}' "$1"
  local calm
  for calm in calm1 calm2 calm3; do
    tenant $calm email_domain '{ allowed_domains = ["example.com"] }' '{}' '{}'
  done
}
serve() { # port nice: a server on port (breaker settings as in the last start) at that nice value, its pid in $started
  config "$breaker" "$1" > "$dir/config-$1.toml"
  RUST_LOG=warn nice -n "$2" "${WASMHOOK:-./target/release/wasmhook}" serve --config "$dir/config-$1.toml" \
    2>> "${SERVER_LOG:-/dev/stderr}" & started=$!
  until curl -sf "http://127.0.0.1:$1/readyz" >/dev/null; do sleep 0.05; done
}
start() { # breaker settings
  breaker=$1
  serve $port 0; server=$started
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server/status"; }
bench_bin() { # name: the path of benches/<name>.rs built
  cargo bench -q -p wasmhook --bench "$1" --no-run --message-format=json 2>/dev/null |
    sed -n "s/.*\"executable\":\"\([^\"]*$1[^\"]*\)\".*/\1/p"
}
client=${CLIENT:-wrk}
case $client in
  wrk) ;;
  closed_loop) closed_loop_bin=$(bench_bin closed_loop) ;;
  *) echo "CLIENT is wrk or closed_loop, not $client" >&2; exit 2 ;;
esac
load() { # tenant connections seconds [slow µs, for closed_loop]
  if [[ $client == closed_loop ]]; then
    "$closed_loop_bin" "$fixture" "$2" "$3" "http://127.0.0.1:$port/hooks/$1" ${4:+"$4"}
  else
    wrk -t1 -c"$2" -d"$3"s --latency -s benches/post.lua "http://127.0.0.1:$port/hooks/$1" -- "$fixture"
  fi
}
# The open-loop client: one process, one thread, every tenant it is given (benches/open_loop.rs).
open_loop_bin=$(bench_bin open_loop)
open_loop() { # seconds tenant... (100 calls/s each, on $hostile_port if set); one RESULT line per tenant
  local seconds=$1; shift
  "$open_loop_bin" "$fixture" 100 "$seconds" "${@/#/http://127.0.0.1:${hostile_port:-$port}/hooks/}"
}
field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p"; }
row() { # label wrk-output alone-rps alone-p99
  local rps p99 errors
  rps=$(field rps <<< "$2"); p99=$(field p99 <<< "$2"); errors=$(field errors <<< "$2")
  printf '| %s | %.2f ms | %s | %s | %.2f× | %.2f× |\n' "$1" "$(bc -l <<< "$p99 / 1000")" "$rps" "$errors" \
    "$(bc -l <<< "$rps / $3")" "$(bc -l <<< "$p99 / $4")"
}

calm_open_loop() { # seconds; $clients is its pid
  open_loop "$1" calm1 calm2 calm3 > /dev/null & clients=$!
}
hostile=${HOSTILE:-loop allocate panic}
hostile_open_loop() { # seconds; $clients is its pid, the results (one line per tenant) in $dir/hostile
  open_loop "$1" $hostile > "$dir/hostile${hostile_port:+-apart}" & clients=$!
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if (( rounds > 0 )); then
  beside_in_process() { # the healthy tenant beside the hostile ones in its server: $beside
    hostile_open_loop "$seconds"
    beside=$(load healthy 4 "$seconds")
    wait $clients
  }
  beside_apart() { # the same with the hostile tenants in a server of their own at nice 19: $apart
    hostile_port=$((port + 1))
    serve $hostile_port 19; isolated=$started
    hostile_open_loop "$seconds"
    apart=$(load healthy 4 "$seconds")
    wait $clients
    kill "$isolated"; wait "$isolated" 2>/dev/null || true
    isolated= hostile_port=
  }
  echo
  isolated_column=${ISOLATED:+" hostile tenants in a server of their own at nice 19: requests/s vs alone, p99 vs alone, errors |"}
  echo "| round (${seconds} s each) | alone: requests/s, p99 | control (3 calm tenants, open loop): requests/s vs alone, p99 vs alone | hostile (open loop, default breaker): requests/s vs alone, p99 vs alone, errors |$isolated_column"
  echo "|---|---|---|---|${ISOLATED:+---|}"
  : > "$dir/ratios"
  for round in $(seq "$rounds"); do
    start '{}'
    alone=$(load healthy 4 "$seconds")
    calm_open_loop "$seconds"
    calm=$(load healthy 4 "$seconds")
    wait $clients
    # With ISOLATED, the two hostile windows take turns going first.
    if [[ -z ${ISOLATED:-} ]]; then
      beside_in_process
    elif (( round % 2 )); then
      beside_in_process; beside_apart
    else
      beside_apart; beside_in_process
    fi
    runs=("$calm" "$beside" ${ISOLATED:+"$apart"})
    stop
    rps0=$(field rps <<< "$alone"); p990=$(field p99 <<< "$alone")
    ratios=""
    for run in "${runs[@]}"; do
      ratios+="$(bc -l <<< "$(field rps <<< "$run") / $rps0") $(bc -l <<< "$(field p99 <<< "$run") / $p990") "
    done
    echo "$ratios" >> "$dir/ratios"
    read -r c_rps c_p99 h_rps h_p99 i_rps i_p99 <<< "$ratios"
    printf '| %d | %s/s, %.2f ms | %.2f×, %.2f× | %.2f×, %.2f×, %s |' "$round" "$rps0" "$(bc -l <<< "$p990 / 1000")" \
      "$c_rps" "$c_p99" "$h_rps" "$h_p99" "$(field errors <<< "$beside")"
    [[ -z ${ISOLATED:-} ]] || printf ' %.2f×, %.2f×, %s |' "$i_rps" "$i_p99" "$(field errors <<< "$apart")"
    echo
  done
  m() { cut -d' ' -f"$1" "$dir/ratios" | median; }
  over() { cut -d' ' -f"$1" "$dir/ratios" | awk '$1 > 2 { n++ } END { print n + 0 }'; }
  printf '| median of %d | | **%.2f×, %.2f×** | **%.2f×, %.2f×** |' "$rounds" "$(m 1)" "$(m 2)" "$(m 3)" "$(m 4)"
  [[ -z ${ISOLATED:-} ]] || printf ' %.2f×, %.2f× |' "$(m 5)" "$(m 6)"
  echo
  printf '| rounds with p99 over 2× alone | | %d of %d | %d of %d |' "$(over 2)" "$rounds" "$(over 4)" "$rounds"
  [[ -z ${ISOLATED:-} ]] || printf ' %d of %d |' "$(over 6)" "$rounds"
  echo
  echo
  echo "hostile calls of the last round ($hostile): $(sed 's/^RESULT //' "$dir/hostile" | tr '\n' ';')"
  exit 0
fi

start '{}'
alone=$(load healthy 4 "$seconds")
alone_rps=$(field rps <<< "$alone"); alone_p99=$(field p99 <<< "$alone")
slow=$((2 * alone_p99))
rss_before=$(rss)
calm_open_loop "$seconds"
beside_calm=$(load healthy 4 "$seconds" $slow)
wait $clients
hostile_open_loop "$seconds"
open_with_breaker=$(load healthy 4 "$seconds" $slow)
wait $clients
hostile_open=$(sed 's/^RESULT //' "$dir/hostile")
rss_after=$(rss)
stop

start '{ failures = 0 }'
hostile_open_loop "$seconds"
open_fair_share=$(load healthy 4 "$seconds")
wait $clients
hostile_fair=$(sed 's/^RESULT //' "$dir/hostile")
closed=()
for tenant in $hostile; do load "$tenant" 2 "$seconds" > /dev/null & closed+=($!); done
closed_fair_share=$(load healthy 4 "$seconds")
wait "${closed[@]}"
stop

echo
echo "| healthy tenant ($client, 4 connections, ${seconds} s) | p99 | requests/s | errors | requests/s vs alone | p99 vs alone |"
echo "|---|---|---|---|---|---|"
row "alone" "$alone" "$alone_rps" "$alone_p99"
row "control: beside 3 calm tenants, open loop 100 calls/s each" "$beside_calm" "$alone_rps" "$alone_p99"
row "beside the hostile tenants, open loop 100 calls/s each, default breaker" "$open_with_breaker" "$alone_rps" "$alone_p99"
row "beside the hostile tenants, open loop 100 calls/s each, breakers off (fair share only)" "$open_fair_share" "$alone_rps" "$alone_p99"
row "beside the hostile tenants, closed loop 2 connections each, breakers off" "$closed_fair_share" "$alone_rps" "$alone_p99"
if [[ $client == closed_loop ]]; then
  echo
  echo "| healthy tenant, by part of the run | p99 in the first second | calls there over 2× p99 alone ($slow µs) | p99 in the rest | calls there over 2× | 1% of the run's calls |"
  echo "|---|---|---|---|---|---|"
  for run in "control|$beside_calm" "hostile tenants, default breaker|$open_with_breaker"; do
    output=${run#*|}
    printf '| %s | %.2f ms | %s of %s | %.2f ms | %s | %s |\n' "${run%%|*}" \
      "$(bc -l <<< "$(field first_second_p99 <<< "$output") / 1000")" "$(field slow_first_second <<< "$output")" \
      "$(field first_second_calls <<< "$output")" "$(bc -l <<< "$(field rest_p99 <<< "$output") / 1000")" \
      "$(field slow_rest <<< "$output")" "$(( $(field calls <<< "$output") / 100 ))"
  done
fi
echo
echo "hostile calls ($hostile), default breaker: $(tr '\n' ';' <<< "$hostile_open")"
echo "hostile calls ($hostile), breakers off: $(tr '\n' ';' <<< "$hostile_fair")"
echo "server RSS before the hostile calls: $rss_before, after: $rss_after"
