#!/usr/bin/env bash
# Builds every rule, in every language, into rules/target/:
#   Rust        target/wasm32-wasip2/release/<name>.wasm   (cargo, this workspace)
#   Python      target/python/<name>.wasm                  (componentize-py)
#   JavaScript  target/javascript/<name>.wasm              (jco, QuickJS backend)
# Bindings are generated from ../wit at build time. A non-Rust rule is rebuilt only when its
# sources, its language's helpers or the WIT changed. Toolchains come from `make setup`.
set -euo pipefail
cd "$(dirname "$0")"
wit=../wit
world=registration-rule

need() {
  command -v "$1" >/dev/null || { echo "rules/build.sh: $1 is missing; run \`make setup\`" >&2; exit 1; }
}
# True when $1 is missing or older than any file under the other arguments.
stale() {
  local output=$1; shift
  [ ! -e "$output" ] || [ -n "$(find "$@" -newer "$output" -type f -print -quit)" ]
}
name_of() { basename "$1" | tr - _; }

cargo build --release --quiet

need componentize-py
mkdir -p target/python
for rule in python/*/; do
  output=target/python/$(name_of "$rule").wasm
  if stale "$output" "$rule" ../guest-sdk/python "$wit" build.sh; then
    componentize-py -d "$wit" -w "$world" componentize app -p "$rule" -p ../guest-sdk/python -o "$output" >/dev/null
  fi
done

[ -x javascript/node_modules/.bin/jco ] || { echo "rules/build.sh: jco is missing; run \`make setup\`" >&2; exit 1; }
mkdir -p target/javascript
for rule in javascript/*/rule.js; do
  dir=$(dirname "$rule")
  output=target/javascript/$(name_of "$dir").wasm
  if stale "$output" "$dir" ../guest-sdk/javascript "$wit" build.sh; then
    javascript/node_modules/.bin/jco componentize "$PWD/$rule" --bundle --backend quickjs \
      --backend-qjs-disable-async --wit "$wit" --world-name "$world" -o "$output" >/dev/null
  fi
done
