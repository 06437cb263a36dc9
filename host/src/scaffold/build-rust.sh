#!/usr/bin/env bash
# Builds the rule into {{name}}.wasm (a WebAssembly component for the `{{world}}` world), then
# runs its cases. Needs Rust with the wasm32-wasip2 target (rustup target add wasm32-wasip2) and
# wasmhook on PATH (or WASMHOOK=/path/to/wasmhook).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2 --quiet
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
"${WASMHOOK:-wasmhook}" test --cases cases.toml
