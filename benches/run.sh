#!/usr/bin/env bash
# The whole benchmark suite, as one Markdown report on stdout and in benches/latest.md: the machine,
# then one table per part. Needs wrk, hyperfine, curl and valgrind, and the release build with every rule
# (`make bench` does both). Run from the repository root:
#   benches/run.sh [seconds per load run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
report=benches/latest.md

{
  echo "# wasmhook benchmarks"
  echo
  echo "- machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
  echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet -- . ':!benches/latest.md' || echo ' (with local changes)'), $(date -u +%Y-%m-%d)"
  echo "- command: \`make bench\` (= \`benches/run.sh $seconds\`)"
  echo
  echo "## Isolated evaluation (fresh store and instance per call)"
  echo
  cargo bench --quiet -p wasmhook --bench evaluation 2>/dev/null | grep '^|'
  echo
  echo "## End to end over HTTP, keep-alive, one run"
  echo
  cargo bench --quiet -p wasmhook --bench end_to_end -- "$seconds" 8 2>/dev/null | grep '^|'
  echo
  echo "## Instructions per request (callgrind; repeat from run to run, unlike time)"
  echo
  benches/instructions.sh 2000
  echo
  echo "## Event hooks: acknowledged on disk, then forwarded by the event-forward rule"
  echo
  cargo bench --quiet -p wasmhook --bench events 2>/dev/null | grep '^|'
  echo
  echo "## Capacity: one core per language, memory per call in flight"
  echo
  benches/capacity.sh "$seconds"
  echo
  echo "## Many tenants"
  echo
  benches/many-tenants.sh 100
  echo
  benches/many-tenants.sh 1000
  echo
  echo "## Reload and cold start"
  echo
  benches/reload.sh 40 rules/target/python/email_domain.wasm rules/target/javascript/email_domain.wasm
  echo
  echo "## Noisy neighbour"
  echo
  SERVER_LOG=/dev/null benches/noisy-neighbour.sh "$seconds"
} | tee "$report"
