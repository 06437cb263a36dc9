# Every target installs what it needs, so each works on a fresh machine with rustup.
.PHONY: quickstart build rules test lint setup bench fuzz deploy-check

# Toolchains for the rules (idempotent): the WebAssembly target for Rust, componentize-py for
# Python (PyPI), jco with the QuickJS backend for JavaScript (npm, versions pinned in the lockfile),
# zig for C (PyPI's ziglang; rules/build.sh builds the rest of the C toolchain, guest-sdk/c/tool).
# The registry tests start Debian's docker-registry (CNCF distribution), installed here when missing.
setup:
	command -v docker-registry >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends docker-registry >/dev/null || \
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends docker-registry >/dev/null; }; }
	rustup target add wasm32-wasip2
	python3 -m pip install --quiet --disable-pip-version-check componentize-py==0.25.1 ziglang==0.17.1
	# npm ci installs exactly the committed lock file (never rewrites it); skipped while
	# node_modules is newer than the lock file.
	cd rules/javascript && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

# Every rule in every language, into rules/target/ (see rules/build.sh).
rules: setup
	rules/build.sh

build: rules
	cargo build --release -p wasmhook

# Build everything and serve examples/quickstart.toml on 127.0.0.1:8080.
quickstart: build
	./target/release/wasmhook serve --config examples/quickstart.toml

# Every test: unit, integration (real server, real rules built from rules/ in every language), CLI, doc tests.
# The host's compile needs none of `setup`'s downloads: they and then the rules run beside it,
# on the core its biggest crates leave idle; the tests then find the rules up to date.
# The tests' scratch files (configs, queues, scaffolded projects, registry caches) go to a directory of
# their own (TMPDIR), removed when every test passed and kept, with its path printed, when one failed.
test:
	{ $(MAKE) --no-print-directory setup && rules/build.sh; } & rules=$$!; \
		cargo test --release --workspace --no-run; built=$$?; \
		wait $$rules && [ $$built = 0 ]
	scratch=$$(mktemp -d -t wasmhook-test.XXXXXX) || exit 1; \
		TMPDIR=$$scratch cargo test --release --workspace; status=$$?; \
		if [ $$status = 0 ]; then rm -rf "$$scratch"; \
		else echo "the tests' scratch files are kept in $$scratch"; fi; exit $$status

# The benchmark suite: one Markdown report on stdout and in benches/latest.md. Needs wrk,
# hyperfine and valgrind (apt-get install wrk hyperfine valgrind).
bench: build
	@command -v wrk >/dev/null && command -v hyperfine >/dev/null && command -v valgrind >/dev/null || { echo "bench needs wrk, hyperfine and valgrind: apt-get install wrk hyperfine valgrind" >&2; exit 1; }
	benches/run.sh

# Clippy runs as the compiler of the workspaces' own crates inside ordinary release builds, which
# is what `cargo clippy` does inside `cargo check` (RUSTC_WORKSPACE_WRAPPER, and CLIPPY_ARGS in
# clippy's encoding for `-- -D warnings`). The dependencies are then the very builds `test` uses
# (same profile, target and folders), not a second, check-only compile of wasmtime; .ci/run
# exports the same two variables, so that `make test` finds the linted builds up to date. The
# set-up's downloads, the manifests' check and the rules (whose Rust crates and C build tool are
# linted on the way) run beside the host's compile, as in `test`.
CLIPPY_ENV := RUSTC_WORKSPACE_WRAPPER=$(shell rustc --print sysroot)/bin/clippy-driver \
	CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
lint:
	cargo fmt --all -- --check
	cd rules && cargo fmt --all -- --check
	cargo fmt --manifest-path guest-sdk/c/tool/Cargo.toml -- --check
	{ $(MAKE) --no-print-directory setup deploy-check && $(CLIPPY_ENV) rules/build.sh; } & rules=$$!; \
		$(CLIPPY_ENV) cargo build --release --workspace --all-targets; host=$$?; \
		wait $$rules && [ $$host = 0 ]

# The Kubernetes manifests (deploy/kubernetes), validated offline against the API schemas with
# PyPI's kubernetes-validate; the kustomization itself is not a resource. The config they carry
# is checked by tests/integration/deploy.rs.
deploy-check:
	python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
	python3 -m kubernetes_validate --strict --quiet $(filter-out %/kustomization.yaml,$(wildcard deploy/kubernetes/*.yaml))

# Coverage-guided fuzzing of request parsing, routing and answer rendering (fuzz/, its own
# workspace; not part of `test` or CI). Needs the nightly toolchain (rustup toolchain install
# nightly) and cargo-fuzz (cargo install cargo-fuzz --locked); the first build compiles wasmtime
# with sanitizers and takes a while. Runs each target for FUZZ_SECONDS in one process (one core),
# seeded by fuzz/corpus/<target>/ and growing fuzz/corpus-run/<target>/ (git-ignored). A crash
# lands in fuzz/artifacts/<target>/; the other targets still run, and the target then fails.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= parse_and_route render
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "fuzz needs cargo-fuzz: cargo install cargo-fuzz --locked" >&2; exit 1; }
	status=0; for target in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$target fuzz/corpus-run/$$target && \
		cargo +nightly fuzz run $$target fuzz/corpus-run/$$target fuzz/corpus/$$target -- \
			-max_total_time=$(FUZZ_SECONDS) || status=1; \
	done; exit $$status
