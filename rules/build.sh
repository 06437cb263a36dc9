#!/usr/bin/env bash
# Builds every rule, in every language, into rules/target/:
#   Rust        target/wasm32-wasip2/release/<name>.wasm   (cargo, this workspace)
#   Python      target/python/<name>.wasm                  (componentize-py)
#   JavaScript  target/javascript/<name>.wasm              (jco, QuickJS backend)
#   C           target/c/<name>.wasm                       (zig cc, then ../guest-sdk/c/tool)
# Bindings are generated from ../wit at build time. A non-Rust rule is rebuilt only when its
# sources, its language's helpers or the WIT changed. Toolchains come from `make setup`.
# A rule's folder name says its hook: `token-*` and `saml-*` are built for those hooks' worlds,
# every other rule for registration (Rust rules name their hook with the SDK's export macro).
set -euo pipefail
cd "$(dirname "$0")"
wit=../wit

need() {
  command -v "$1" >/dev/null || { echo "rules/build.sh: $1 is missing; run \`make setup\`" >&2; exit 1; }
}
# True when $1 is missing or older than any file under the other arguments.
stale() {
  local output=$1; shift
  [ ! -e "$output" ] || [ -n "$(find "$@" -newer "$output" -type f -print -quit)" ]
}
name_of() { basename "$1" | tr - _; }
world_of() {
  case $(basename "$1") in
    token-*) echo token-rule ;;
    saml-*) echo saml-rule ;;
    *) echo registration-rule ;;
  esac
}

cargo build --release --quiet

need componentize-py
mkdir -p target/python
for rule in python/*/; do
  output=target/python/$(name_of "$rule").wasm
  if stale "$output" "$rule" ../guest-sdk/python "$wit" build.sh; then
    componentize-py -d "$wit" -w "$(world_of "$rule")" componentize app -p "$rule" -p ../guest-sdk/python -o "$output" >/dev/null
  fi
done

[ -x javascript/node_modules/.bin/jco ] || { echo "rules/build.sh: jco is missing; run \`make setup\`" >&2; exit 1; }
# What jco says when a rule has a mistake docs/writing-rules.md knows, and what to do about it.
jco_hint() {
  case $1 in
    *"exported variable '"*"' does not exist"*)
      echo "the module threw at top level (the bundler drops the code after a top-level \`throw\`, exports" \
        "included) or does not export its hook's object (\`registration\`, \`token\` or \`saml\`)" ;;
    *"Failed to evaluate user JavaScript module"*)
      echo "the module's top level threw: it runs once, when the component is built" ;;
  esac
}
mkdir -p target/javascript
# bundle.config.mjs marks the wasmhook imports external (no warning) and maps errors' places to
# the original files (see guest-sdk/javascript/wasmhook.js).
for rule in javascript/*/rule.js; do
  dir=$(dirname "$rule")
  output=target/javascript/$(name_of "$dir").wasm
  if stale "$output" "$dir" ../guest-sdk/javascript "$wit" build.sh javascript/bundle.config.mjs; then
    if ! messages=$(javascript/node_modules/.bin/jco componentize "$PWD/$rule" --bundle \
      --bundle-config javascript/bundle.config.mjs --backend quickjs --backend-qjs-disable-async \
      --wit "$wit" --world-name "$(world_of "$dir")" -o "$output" 2>&1 >/dev/null); then
      printf '%s\n' "$messages" >&2
      hint=$(jco_hint "$messages")
      echo "rules/build.sh: building $rule failed${hint:+; hint: $hint}" >&2
      exit 1
    fi
    [ -z "$messages" ] || printf '%s\n' "$messages" >&2
  fi
done

# C (registration rules only): wasmhook-c (../guest-sdk/c/tool) generates the bindings and makes the component; it is built
# here for the host, so the explicit --target overrides the wasm32-wasip2 default of .cargo/.
python3 -m ziglang version >/dev/null 2>&1 || { echo "rules/build.sh: zig (pip ziglang) is missing; run \`make setup\`" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --quiet --manifest-path ../guest-sdk/c/tool/Cargo.toml \
  --target "$host" --target-dir target/host-tools
tool=target/host-tools/$host/release/wasmhook-c
bindings=target/c/bindings
mkdir -p target/c/core
if stale "$bindings/registration_rule.h" "$wit" "$tool" build.sh; then
  # Into a fresh folder, swapped in whole: an interrupted run never leaves half the files new.
  rm -rf "$bindings.partial"
  "$tool" bindings --wit "$wit" --world registration-rule --out "$bindings.partial"
  rm -rf "$bindings" && mv "$bindings.partial" "$bindings"
fi
for rule in c/*/; do
  name=$(name_of "$rule")
  output=target/c/$name.wasm
  if stale "$output" "$rule" ../guest-sdk/c/*.[ch] "$bindings" build.sh; then
    # A reactor: no `main`, the component's export is called once per fresh instance. A 1 MiB
    # stack (as Rust's) instead of zig's 16 MiB leaves the rest of the memory cap to the heap.
    python3 -m ziglang cc --target=wasm32-wasi -mexec-model=reactor -O2 -s -Wall -Wextra -Werror \
      -Wl,-z,stack-size=1048576 -I"$bindings" -I../guest-sdk/c "$rule"*.c ../guest-sdk/c/*.c \
      "$bindings/registration_rule.c" "$bindings/registration_rule_component_type.o" \
      -o "target/c/core/$name.wasm"
    "$tool" component --module "target/c/core/$name.wasm" --out "$output"
  fi
done
