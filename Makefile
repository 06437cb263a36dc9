# Every target installs what it needs, so each works on a fresh machine with rustup.
.PHONY: quickstart build rules test lint setup

# The WebAssembly target rules are built for (idempotent).
setup:
	rustup target add wasm32-wasip2

# Rules have their own workspace (and .cargo/config.toml selecting the wasm target): build from inside it.
rules: setup
	cd rules && cargo build --release

build: rules
	cargo build --release -p wasmhook

# Build everything and serve examples/quickstart.toml on 127.0.0.1:8080.
quickstart: build
	./target/release/wasmhook serve --config examples/quickstart.toml

# Every test: unit, integration (real server, real rules built from rules/), CLI, doc tests.
test: setup
	cargo test --release --workspace

lint: setup
	cargo fmt --all -- --check
	cd rules && cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cd rules && cargo clippy --release -- -D warnings
