//! wasmhook answers Okta inline hooks (and handles its event hooks) by running user-written rules as sandboxed WebAssembly
//! components: one server for many tenants, a fresh isolated instance per call, and an explicit,
//! fast answer for every failure.
//!
//! # Layout
//!
//! A call flows through these modules in order:
//!
//! - [`http`]: hyper server, endpoints, body limits, graceful shutdown, HTTPS with a certificate
//!   swapped in place on reload ([`http::tls`]), and (in `http/reply.rs`) the one place where
//!   answers become HTTP responses.
//! - [`tenant`]: tenants and their authentication ([`tenant::auth`]: a header secret compared in
//!   constant time, or an OAuth 2.0 bearer JWT checked against the JWKS).
//! - [`hook`]: one hook call end to end, independent of HTTP and of the hook type: parse, route,
//!   admit, evaluate, render or answer with the failure policy; shared with `wasmhook eval` and
//!   `wasmhook test`. [`hook::shadow`] runs a route's candidate rule after the answer.
//! - [`okta`]: the Okta protocol at the wire level, shared by every hook type: the envelope,
//!   lenient parsing, shared shapes, JSON Patch operations, answers and their common rendering.
//! - [`hooks`]: one module per hook type ([`hooks::registration`], [`hooks::token`],
//!   [`hooks::saml`]), listed once in [`hooks::HookType`]: the typed request, the decision and its
//!   check against what Okta accepts, rendering, and the answer per failure policy.
//! - [`events`]: event hook deliveries after the `POST`: queued durably on disk (redb) before
//!   the 200, then each event run through its route's event rule, retried, or kept as a dead
//!   letter.
//! - [`routing`]: `eventType` (+ `requestType` where the hook has them) → the route and rule.
//! - [`scheduler`]: CPU fair share between tenants (who runs when the machine is busy, which
//!   calls are throttled); [`tenant::breaker`] stops running a route's rule that keeps failing.
//! - [`runtime`]: wasmtime engine, rule compilation and deduplication, the per-call sandbox
//!   (deadline, memory cap, empty WASI context, guest logging). `runtime/bindings.rs` holds all
//!   bindgen output (one world exporting every hook interface, so shared types are generated
//!   once) and converts between it and the protocol's types, which never see the bindings;
//!   `runtime/hints.rs` adds a hint to a load error or trap that shows a known toolchain mistake.
//!
//! Around them: [`config`] (TOML, validated at load), [`registry`] (rules pulled from an OCI
//! registry, verified by digest and kept for offline restarts), [`reload`] (file watching,
//! rebuild and atomic swap), [`app`] (shared state), [`untrusted`] (guest text escaped and capped for logs),
//! [`metrics`] (Prometheus), [`telemetry`] (tracing output), [`decisions`] (the decision log:
//! one JSON line per answer, ids and kinds only), [`cases`] (the table tests of
//! `wasmhook test`), [`scaffold`] (the projects of `wasmhook new`) and [`cli`] (`serve`, `eval`,
//! `test`, `new`, `push`, `check`).
//!
//! Adding a hook type: a WIT file and world in `wit/`, a module in `hooks/` with its line in
//! [`hooks::HookType`], its export in the world and its conversions in `runtime/bindings.rs`,
//! and an SDK module per language (`guest-sdk/`).

pub mod app;
pub mod cases;
pub mod cli;
pub mod config;
pub mod decisions;
pub mod events;
pub mod hook;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod okta;
pub mod registry;
pub mod reload;
pub mod routing;
pub mod runtime;
pub mod scaffold;
pub mod scheduler;
pub mod telemetry;
pub mod tenant;
pub mod untrusted;

use std::future::Future;
use std::pin::Pin;

/// What the library's async entry points for other crates (the binary, the tests, the
/// benchmarks) return: a future whose type is erased here. A crate that polls an `async fn`'s
/// future compiles its whole call tree again, at `-O3`, however deep: plain `async fn` entry
/// points made the binary compile most of the server a second time (52 of its 54 s).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
