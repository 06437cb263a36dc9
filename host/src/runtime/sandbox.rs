//! Per-request store state: what a guest is given (an empty WASI context, a logger) and the limits
//! it runs under (memory cap, log budget).
//!
//! A fresh `Sandbox` is created for every evaluation and dropped with its store, so nothing a guest
//! does survives into the next request.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{Level, log, types};

/// Marker appended to a log line that was cut to fit the request's log budget.
const TRUNCATED: &str = " …[truncated]";
/// Guest stderr kept per evaluation: enough for a panic message, which explains a trap.
const STDERR_BYTES: usize = 4096;

/// The data of one evaluation's `Store`.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    /// What the guest wrote to stderr (a Rust panic message, typically), for the failure log.
    stderr: MemoryOutputPipe,
    /// Largest linear memory the guest may grow to, in bytes.
    max_memory_bytes: usize,
    /// Set when the guest asked for more memory than `max_memory_bytes`, so that the trap that
    /// usually follows (an allocation failure aborts) is reported as a memory-cap failure.
    pub memory_cap_hit: bool,
    /// Bytes of guest log text still allowed for this request.
    log_budget: usize,
    /// Number of guest log lines dropped or cut because the budget ran out.
    pub log_lines_truncated: u32,
}

impl Sandbox {
    pub fn new(max_memory_bytes: usize, log_budget: usize) -> Self {
        // The WASI context grants nothing: no preopened directories, no environment, no
        // arguments, stdin closed and stdout/stderr discarded, and no network (TCP, UDP and name
        // lookup refused). Rust guests built against `std` still import these interfaces, which
        // is why WASI is linked at all. Clocks and random numbers are available (a rule may stamp
        // or sample; neither lets it reach anything outside the sandbox). Stderr is kept in a
        // small buffer so that a failure's log line can say why the guest trapped.
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Sandbox {
            wasi,
            table: ResourceTable::new(),
            stderr,
            max_memory_bytes,
            memory_cap_hit: false,
            log_budget,
            log_lines_truncated: 0,
        }
    }
}

impl Sandbox {
    /// What the guest wrote to stderr so far, on one line: control characters are escaped so
    /// that a rule cannot forge log lines.
    pub fn stderr(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        text.trim().escape_debug().to_string()
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
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.memory_cap_hit = true;
            return Ok(false);
        }
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

impl log::Host for Sandbox {
    fn log(&mut self, level: Level, message: String) {
        if self.log_budget == 0 {
            self.log_lines_truncated += 1;
            return;
        }
        let message = if message.len() > self.log_budget {
            self.log_lines_truncated += 1;
            let mut end = self.log_budget;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}{TRUNCATED}", &message[..end])
        } else {
            message
        };
        self.log_budget = self.log_budget.saturating_sub(message.len());
        // Guest lines go to their own target so operators can filter them, inside the request's
        // span (tenant, eventId, rule) because evaluation runs within it. Control characters are
        // escaped so that a rule cannot forge log lines.
        let message = message.escape_debug();
        match level {
            Level::Trace => tracing::trace!(target: "wasmhook::guest", "{message}"),
            Level::Debug => tracing::debug!(target: "wasmhook::guest", "{message}"),
            Level::Info => tracing::info!(target: "wasmhook::guest", "{message}"),
            Level::Warn => tracing::warn!(target: "wasmhook::guest", "{message}"),
            Level::Error => tracing::error!(target: "wasmhook::guest", "{message}"),
        }
    }
}
