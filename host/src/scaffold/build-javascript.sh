#!/usr/bin/env bash
# Builds the rule into {{name}}.wasm (a WebAssembly component for the `{{world}}` world), then
# runs its cases. Needs Node.js and npm (the first build installs jco, pinned in package-lock.json)
# and wasmhook on PATH (or WASMHOOK=/path/to/wasmhook).
set -euo pipefail
cd "$(dirname "$0")"
[ -x node_modules/.bin/jco ] || npm ci --no-audit --no-fund --loglevel=error
# entry.js exports the rule and its settings check; bundle.config.mjs maps an exception's place
# back to rule.js. --backend-qjs-disable-async: the host runs rules without the component model's
# async feature.
node_modules/.bin/jco componentize "$PWD/entry.js" --bundle --bundle-config bundle.config.mjs \
  --backend quickjs --backend-qjs-disable-async --wit wit --world-name {{world}} -o {{name}}.wasm >/dev/null
"${WASMHOOK:-wasmhook}" test --cases cases.toml
