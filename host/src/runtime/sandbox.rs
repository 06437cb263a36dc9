//! Per-request store state: what a guest is given (an empty WASI context, a logger, outbound HTTP
//! as far as its route grants it) and the limits it runs under (memory cap, log budget), and the
//! secrets of the call (a password, a one-time code) masked in everything the guest writes.
//!
//! A fresh `Sandbox` is created for every evaluation and dropped with its store, so nothing a guest
//! does survives into the next request.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{Level, http_client, log, types};
use super::outbound::CallOutbound;
use super::stderr::CappedPipe;
use crate::untrusted::{GuestText, redact};

/// Guest stderr kept per evaluation: enough for a panic message, which explains a trap. The
/// rest is accepted and dropped.
const STDERR_BYTES: usize = 4096;
/// What one guest log line costs against the call's log budget besides its text: about the
/// size of the line's prefix (timestamp, level, target and the call's span fields: ~220 bytes
/// in the JSON format, ~170 in text), so that a flood of empty lines is capped as surely as
/// one long line.
pub const LOG_LINE_COST: usize = 256;
/// Most bytes one `wasi:random` call may ask for (as Web Crypto's `getRandomValues`): filling
/// 64 MiB took 250 ms inside one host call, where no deadline can interrupt it. Larger
/// requests trap.
const MAX_RANDOM_BYTES: u64 = 64 << 10;
/// Most host resources (streams, pollables, …) a guest may hold at once. Each costs host
/// memory outside the linear-memory cap; wasmtime's default allows a million.
const MAX_RESOURCES: usize = 10_000;

/// The data of one evaluation's `Store`.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    /// The route's outbound grant and what is left of the call's budget.
    outbound: CallOutbound,
    /// Values of the request no guest text may repeat (see [`crate::hooks::Request::secrets`]).
    secrets: Vec<String>,
    /// What the guest wrote to stderr (a Rust panic message, typically), for the failure log.
    stderr: CappedPipe,
    /// Largest linear memory the guest may grow to, in bytes.
    max_memory_bytes: usize,
    /// Set when the guest asked for more memory than `max_memory_bytes`, so that the trap that
    /// usually follows (an allocation failure aborts) is reported as a memory-cap failure.
    pub memory_cap_hit: bool,
    /// Linear memory the guest's memories hold together, in bytes (they never shrink, so this
    /// is also the most it used).
    pub memory_bytes: usize,
    /// Bytes of guest log output still allowed for this request (see [`LOG_LINE_COST`]). Guest
    /// text in the call's failure line is counted against it too.
    pub log_budget: usize,
    /// Number of guest log lines dropped or cut because the budget ran out.
    pub log_lines_truncated: u32,
}

impl Sandbox {
    pub fn new(
        max_memory_bytes: usize,
        log_budget: usize,
        outbound: CallOutbound,
        secrets: Vec<String>,
    ) -> Self {
        // The WASI context grants nothing: no preopened directories, no environment, no
        // arguments, stdin closed and stdout/stderr discarded, and no network (TCP, UDP and name
        // lookup refused). Rust guests built against `std` still import these interfaces, which
        // is why WASI is linked at all. HTTP requests are the one way out, and only to what the
        // route grants (`runtime/outbound.rs`). Clocks and random numbers are available (a rule may stamp
        // or sample; neither lets it reach anything outside the sandbox). Stderr is kept in a
        // small buffer so that a failure's log line can say why the guest trapped.
        let stderr = CappedPipe::new(STDERR_BYTES);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(MAX_RANDOM_BYTES)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Sandbox {
            wasi,
            table,
            http: WasiHttpCtx::new(),
            outbound,
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
            stderr,
            max_memory_bytes,
            memory_cap_hit: false,
            memory_bytes: 0,
            log_budget,
            log_lines_truncated: 0,
        }
    }

    /// What the guest wrote to stderr, made one line (a panic message's lines joined by spaces),
    /// escaped, and counted against the log budget.
    pub fn stderr(&mut self) -> GuestText {
        let text = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        self.guest_text(&crate::untrusted::one_line(&text))
    }

    /// `text` with the call's secrets masked, escaped and capped at what is left of the log
    /// budget, which it then uses up.
    pub fn guest_text(&mut self, text: &str) -> GuestText {
        let text = GuestText::new(&self.redact(text), self.log_budget);
        self.log_budget = self.log_budget.saturating_sub(text.len());
        text
    }

    /// `text` with every occurrence of a secret of the call replaced by `[redacted]`.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        redact(text, &self.secrets)
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.memory_cap_hit = true;
            return Ok(false);
        }
        self.memory_bytes += desired.saturating_sub(current);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a rule that needs a million of them is misbehaving.
        Ok(desired <= 1_000_000)
    }
}

impl types::Host for Sandbox {}

impl http_client::Host for Sandbox {
    async fn send(
        &mut self,
        request: http_client::Request,
    ) -> Result<http_client::Response, String> {
        let response = self
            .outbound
            .send_whole(request.method, request.url, request.headers, request.body)
            .await?;
        Ok(http_client::Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }
}

impl log::Host for Sandbox {
    fn log(&mut self, level: Level, message: String) {
        // Every line costs its prefix, so a flood of empty lines runs out as surely as one long
        // line; the text is escaped first and capped at what is left.
        let Some(left) = self.log_budget.checked_sub(LOG_LINE_COST) else {
            self.log_budget = 0;
            self.log_lines_truncated += 1;
            return;
        };
        self.log_budget = left;
        let message = self.guest_text(&message);
        if message.was_cut() {
            self.log_lines_truncated += 1;
        }
        // Guest lines go to their own target so operators can filter them, inside the request's
        // span (tenant, eventId, rule) because evaluation runs within it.
        match level {
            Level::Trace => tracing::trace!(target: "wasmhook::guest", "{message}"),
            Level::Debug => tracing::debug!(target: "wasmhook::guest", "{message}"),
            Level::Info => tracing::info!(target: "wasmhook::guest", "{message}"),
            Level::Warn => tracing::warn!(target: "wasmhook::guest", "{message}"),
            Level::Error => tracing::error!(target: "wasmhook::guest", "{message}"),
        }
    }
}
