#!/usr/bin/env bash
# Builds the rule into {{name}}.wasm (a WebAssembly component for the `{{world}}` world), then
# runs its cases. Needs componentize-py (pip install componentize-py==0.25.1) and wasmhook on
# PATH (or WASMHOOK=/path/to/wasmhook).
set -euo pipefail
cd "$(dirname "$0")"
# wasmhook_app (in sdk/) is app.py plus its settings check (the helpers' accept-all one when
# app.py defines no `Settings`).
componentize-py -d wit -w {{world}} componentize wasmhook_app -p . -p sdk -o {{name}}.wasm >/dev/null
"${WASMHOOK:-wasmhook}" test --cases cases.toml
