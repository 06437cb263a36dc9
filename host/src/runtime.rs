//! The WebAssembly runtime: one engine per process, each rule compiled once and shared, and a fresh,
//! limited instance for every evaluation.
//!
//! Why a fresh instance per request: a rule sees personal data of the user being registered, and
//! many tenants share one server, so no guest state may survive from one call to the next. The
//! pooling allocator with copy-on-write memory images keeps that cheap (a used slot has its dirty
//! pages rewritten in place, so the next instance starts without page faults), and `InstancePre`
//! does the import resolution once at load time instead of per request. An isolated evaluation of
//! a small rule takes about 10 µs (`benches/evaluation.rs`).
//!
//! Limits on each evaluation:
//! - **deadline**: the engine's epoch advances every [`EPOCH_TICK`]; at each tick a running guest
//!   yields to tokio (so a busy rule never stalls the server) and traps once its deadline has
//!   passed. A timer around the whole call also covers time spent waiting in host calls.
//! - **memory**: a per-store [`ResourceLimiter`](wasmtime::ResourceLimiter) caps linear memory.
//! - **fuel** (optional): a deterministic instruction budget. Fuel is always metered, so `eval`
//!   can tell an author what a rule costs; a route without a budget gets an unlimited one.
//! - **log budget**: guest log output per request is capped (see `runtime/sandbox.rs`), guest
//!   text in the failure line included.
//! - **data from the guest**: what a rule returns (or passes to a host call) is copied into
//!   host memory only up to [`HOSTCALL_BYTES_PER_ANSWER_BYTE`] times the route's answer limit
//!   (wasmtime's hostcall fuel); beyond it the call fails as `oversize`, before anything is
//!   copied. A rule returning a million commands costs the host a bounded amount of memory.
//! - **host calls**: random bytes per call and host resources per instance are capped, so no
//!   host call runs long or allocates much on a guest's behalf.
//! - **network**: none, unless the route grants outbound HTTP to named hosts; then requests per
//!   call and response bytes are capped, and each request must finish by the deadline
//!   (`runtime/outbound.rs`).
//! - **secrets of the call** (a password, a one-time code): masked in every line the guest
//!   writes, its `err` message and its stderr (see [`hooks::Request::secrets`]).
//! - **module size**: checked when a rule file is loaded.
//! - **settings**: a rule's `validate-settings` runs once per route when the route is loaded
//!   ([`Runtime::validate_settings`]), in a fresh instance under the same limits; a call never
//!   pays for it.
//! - **concurrency**: the instance pool has [`pool::SLOTS`] slots (or `WASMHOOK_POOL_SLOTS`); a
//!   rule's instance takes as many as its core instances, memories and tables need (see
//!   `runtime/pool.rs`). A call waits for free slots until its deadline, then fails as
//!   `concurrency`.

mod bindings;
mod compiled_functions;
mod hints;
pub mod outbound;
mod pool;
mod sandbox;
mod stderr;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, Store, Trap,
    UpdateDeadline,
};

use crate::hooks::{self, HookType};
use crate::okta::Refusal;
use crate::scheduler::{RouteUsage, Scheduler, Share};
use crate::untrusted::GuestText;
pub use bindings::interface_name;
use bindings::{Exports, SettingsExport};
use compiled_functions::CompiledFunctions;
use outbound::{CallOutbound, Grant};
pub use pool::Footprint;
pub use sandbox::LOG_LINE_COST;
use sandbox::Sandbox;

/// How often the engine's epoch advances: the granularity of deadlines and of guest yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Evaluations that may run at once in the process: one per slot of the instance pool.
pub const MAX_CONCURRENT_EVALUATIONS: usize = pool::SLOTS as usize;

/// Bytes a guest may hand the host in one crossing (its decision, or one host call), per byte of
/// the route's answer limit. Lifted, an attribute of a few bytes takes 48 bytes of host memory,
/// so a decision whose answer fits 256 KB may need a few MB; sixteen times leaves room for that.
pub const HOSTCALL_BYTES_PER_ANSWER_BYTE: usize = 16;

/// Resource limits for one evaluation of a route's rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Wall-clock time for the whole evaluation, from the call's arrival to its answer: waiting
    /// for an instance slot, instantiation and the guest's run.
    pub deadline: Duration,
    /// Largest linear memory the guest may grow to.
    pub max_memory_bytes: usize,
    /// Instruction budget (wasmtime fuel); `None` is unlimited.
    pub fuel: Option<u64>,
    /// Guest log text allowed per request; lines beyond it are cut or dropped.
    pub max_log_bytes: usize,
    /// Largest answer body the route may send (at most Okta's limit, just under 256 KB).
    pub max_response_bytes: usize,
    /// Largest rule file the route may load.
    pub max_module_bytes: u64,
    /// Outbound HTTP requests one call may send (when its route grants any host).
    pub max_outbound_requests: u32,
    /// Largest response body one outbound request may receive.
    pub max_outbound_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(1000),
            max_memory_bytes: 64 << 20,
            fuel: None,
            max_log_bytes: 16 << 10,
            max_response_bytes: crate::okta::response::MAX_RESPONSE_BYTES,
            // Python and JavaScript rules embed their interpreter: 12-20 MB.
            max_module_bytes: 64 << 20,
            max_outbound_requests: 4,
            max_outbound_response_bytes: 1 << 20,
        }
    }
}

/// What an evaluation consumed, whatever its outcome.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Wasmtime fuel (roughly, WebAssembly instructions) spent, instantiation included. A rule
    /// stopped by its deadline spent at least this much (see [`Runtime::with_precise_fuel`]).
    pub fuel: u64,
    /// Whether the deadline stopped the rule, so that `fuel` is a lower bound.
    pub stopped_by_deadline: bool,
    /// Whether the deadline came while the rule was not running (waiting for the CPU, or in a
    /// host call): its time ran out rather than its code.
    pub stopped_while_waiting: bool,
    /// Wall-clock time from store creation to the outcome.
    pub elapsed: Duration,
    /// Linear memory the instance had at its end (its largest: memories never shrink), in bytes.
    pub memory_bytes: usize,
    /// Part of `elapsed` spent creating the store and its WASI context.
    pub store: Duration,
    /// Part of `elapsed` spent instantiating the component.
    pub instantiate: Duration,
    /// Part of `elapsed` spent after the call: reading the outcome and returning the instance's
    /// slot to the pool (which resets its memory).
    pub release: Duration,
}

/// Why an evaluation produced no decision. The answer to Okta never carries these details; the log
/// line does.
#[derive(Debug, thiserror::Error)]
pub enum RuleFailure {
    #[error("deadline of {} ms exceeded", .0.as_millis())]
    Deadline(Duration),
    #[error("memory cap of {} bytes exceeded", .0)]
    MemoryCap(usize),
    #[error("fuel budget of {0} exhausted")]
    Fuel(u64),
    #[error("concurrency limit reached: {0}")]
    Concurrency(&'static str),
    #[error("throttled: the tenant's share of the CPU cannot finish this call before its deadline")]
    Throttled,
    #[error("the route's circuit breaker is open: its rule failed repeatedly and is not run")]
    CircuitOpen,
    /// The trap and what the guest wrote to stderr, escaped (stderr capped by the log budget).
    #[error("trapped: {0}")]
    Trap(String),
    /// The rule's `err` message, escaped and capped by the call's log budget.
    #[error("the rule could not decide: {0}")]
    RuleError(GuestText),
    #[error("invalid decision: {0}")]
    InvalidDecision(String),
    #[error(
        "the answer is at least {size} bytes; the limit is {limit} (Okta accepts less than 256 KB)"
    )]
    Oversize { size: usize, limit: usize },
    #[error("the rule handed the host more than {0} bytes at once (16 times the answer limit)")]
    TooMuchData(usize),
}

impl From<Refusal> for RuleFailure {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(message) => RuleFailure::InvalidDecision(message),
            Refusal::Oversize { size, limit } => RuleFailure::Oversize { size, limit },
        }
    }
}

impl RuleFailure {
    /// A short, stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleFailure::Deadline(_) => "deadline",
            RuleFailure::MemoryCap(_) => "memory",
            RuleFailure::Fuel(_) => "fuel",
            RuleFailure::Concurrency(_) => "concurrency",
            RuleFailure::Throttled => "throttled",
            RuleFailure::CircuitOpen => "circuit_open",
            RuleFailure::Trap(_) => "trap",
            RuleFailure::RuleError(_) => "rule_error",
            RuleFailure::InvalidDecision(_) => "invalid_output",
            RuleFailure::Oversize { .. } | RuleFailure::TooMuchData(_) => "oversize",
        }
    }
}

/// Why a route's settings were not accepted: the rule's `validate-settings` refused them, or did
/// not return. The route does not load.
#[derive(Debug, thiserror::Error)]
pub enum SettingsRefused {
    /// The rule's `err` message: escaped onto one line and capped at [`SETTINGS_MESSAGE_BYTES`].
    #[error("the rule refused them: {0}")]
    ByRule(GuestText),
    /// `validate-settings` trapped or ran out of the route's deadline, memory or fuel.
    #[error("the rule's validate-settings failed ({kind}): {0}", kind = .0.kind())]
    Failed(RuleFailure),
}

impl SettingsRefused {
    /// The name `wasmhook test` expects a refusal by (`failure = "invalid_settings"`).
    pub fn kind(&self) -> &'static str {
        "invalid_settings"
    }
}

/// Longest refusal message kept from a rule (escaped): enough to say what is wrong, short enough
/// for one log line.
pub const SETTINGS_MESSAGE_BYTES: usize = 1024;

/// How long checking settings waits for free instance slots before the route fails to load (a
/// busy server's calls hold them); the route's deadline starts once it has them.
const SETTINGS_SLOT_WAIT: Duration = Duration::from_secs(30);

/// Accepted (settings, limits) remembered per rule; beyond this the memory is cleared.
const ACCEPTED_SETTINGS_KEPT: usize = 1024;

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is {size} bytes; the limit is {limit}", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{} is not a valid WebAssembly component: {message}", path.display())]
    Compile { path: PathBuf, message: String },
    #[error("{} does not fit the wasmhook rule contract: {message}", path.display())]
    Contract { path: PathBuf, message: String },
}

/// A rule compiled and pre-instantiated, ready for fresh instances. Shared by every route (of any
/// tenant) that uses the same module bytes.
pub struct CompiledRule {
    /// Hex sha256 of the module bytes: the rule's identity.
    pub sha256: String,
    /// What one instance takes from the pool.
    pub footprint: Footprint,
    /// The hook type the rule handles: the hook interface it exports.
    pub hook: HookType,
    /// Pool slots (permits of [`Runtime::slots`]) one evaluation takes.
    slots: u32,
    /// Imports resolved and type-checked at load.
    pre: InstancePre<Sandbox>,
    /// Its hook interface's exports, looked up at load.
    exports: Exports,
    /// Its `validate-settings`, when it exports one.
    settings_export: Option<SettingsExport>,
    /// Settings (with the limits they were checked under) that `validate-settings` accepted, so
    /// that a reload does not check an unchanged route again.
    accepted_settings: Mutex<HashSet<(String, Limits)>>,
}

impl CompiledRule {
    /// Whether the rule exports `validate-settings` (rules built against the 0.1.0 contract
    /// do not; their settings are then all accepted).
    pub fn validates_settings(&self) -> bool {
        self.settings_export.is_some()
    }

    fn accepted(&self, settings: &str, limits: &Limits) -> bool {
        let accepted = self
            .accepted_settings
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        accepted.contains(&(settings.to_owned(), limits.clone()))
    }
}

/// The process-wide engine, linker and compiled-rule cache. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<Sandbox>>,
    /// Compiled rules by content hash, so identical modules are compiled and held once.
    compiled: Arc<Mutex<HashMap<String, Weak<CompiledRule>>>>,
    /// Free pool slots: taking a rule's slots before instantiating it means the pool itself
    /// never runs out, and a burst waits for slots instead of failing.
    slots: Arc<Semaphore>,
    /// Whether fuel is synchronised often enough to be known after a deadline (see
    /// [`Runtime::with_precise_fuel`]).
    precise_fuel: bool,
    /// Who runs when evaluations wait for the CPU.
    scheduler: Arc<Scheduler>,
    /// Sends the outbound HTTP requests routes grant.
    outbound: outbound::Client,
    /// Functions compiled during the current load, for the next rules to reuse.
    compiled_functions: Arc<CompiledFunctions>,
}

/// With precise fuel, the guest hands its fuel count back to the host every this many units.
const PRECISE_FUEL_INTERVAL: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

impl Runtime {
    /// Builds the engine (component model, epoch interruption, fuel, pooling allocator) and
    /// starts the epoch ticker, which stops by itself when the last clone of the engine is dropped.
    ///
    /// With a `cache_dir`, compiled rules are cached on disk by wasmtime (in its `compiled`
    /// folder, which wasmtime's clean-up owns: nothing else may live there), keyed by its
    /// version, the engine's compilation settings and the module bytes; an entry that fails to
    /// load is recompiled. Restarts and reloads then skip compilation (seconds for Python or
    /// JavaScript rules).
    pub fn new(cache_dir: Option<&Path>) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        if let Some(dir) = cache_dir {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir.join("compiled"));
            config.cache(Some(wasmtime::Cache::new(cache)?));
        }
        let compiled_functions = Arc::new(CompiledFunctions::default());
        config.enable_incremental_compilation(compiled_functions.clone())?;
        config.epoch_interruption(true);
        config.consume_fuel(true);
        // Pooling: instance slots are reserved up front and reused, and linear memories start
        // from copy-on-write images, so a fresh instance per request costs microseconds.
        let slots = pool::slots();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool::config(slots)));
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Always linked, so a rule that can call out loads anywhere; a route without a grant
        // refuses every request (`runtime/outbound.rs`).
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::add_rule_imports_to_linker(&mut linker)?;

        let weak = engine.weak();
        let preempt_weak = engine.weak();
        let preempt = Box::new(move || {
            if let Some(engine) = preempt_weak.upgrade() {
                engine.increment_epoch();
            }
        });
        std::thread::Builder::new()
            .name("wasmhook-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;

        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            compiled: Default::default(),
            slots: Arc::new(Semaphore::new(slots as usize)),
            precise_fuel: false,
            scheduler: Arc::new(Scheduler::for_current_runtime().with_preemption(preempt)),
            outbound: outbound::Client::new()?,
            compiled_functions,
        })
    }

    /// Ends a batch of loads (a config load): the functions compiled for it are let go.
    pub fn forget_compiled_functions(&self) {
        self.compiled_functions.clear();
    }

    /// Functions taken from an earlier compile instead of compiled again, since the engine
    /// was built (see `runtime/compiled_functions.rs`).
    pub fn reused_functions(&self) -> u64 {
        self.compiled_functions.reused()
    }

    /// The CPU scheduler evaluations run under.
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Keeps fuel accurate (to [`PRECISE_FUEL_INTERVAL`]) even for a rule stopped by its
    /// deadline, for `wasmhook eval`. Compiled code keeps its fuel count in a register and
    /// writes it back only when it calls out, so a rule looping until its deadline would
    /// otherwise report only the fuel it had used before the loop. Costs a call out per
    /// interval, which the server does not pay.
    pub fn with_precise_fuel(mut self) -> Self {
        self.precise_fuel = true;
        self
    }

    /// Loads a rule file of at most `max_bytes`: reads it, and compiles and pre-instantiates it
    /// unless a module with the same bytes is already loaded. Checks that the component fits the
    /// rule contract.
    pub fn load(&self, path: &Path, max_bytes: u64) -> Result<Arc<CompiledRule>, LoadError> {
        let read = |source| LoadError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > max_bytes {
            return Err(LoadError::TooLarge {
                path: path.to_owned(),
                size,
                limit: max_bytes,
            });
        }
        let bytes = std::fs::read(path).map_err(read)?;
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some(rule) = self.cached(&sha256) {
            return Ok(rule);
        }
        let compile = |message: &str| LoadError::Compile {
            path: path.to_owned(),
            message: load_message(message),
        };
        let contract = |message: &str| LoadError::Contract {
            path: path.to_owned(),
            message: load_message(message),
        };
        let component =
            Component::new(&self.engine, &bytes).map_err(|e| compile(&format!("{e:#}")))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| contract(&format!("{e:#}")))?;
        let exports = Exports::find(&pre).map_err(|message| contract(&message))?;
        let settings_export = SettingsExport::find(&pre).map_err(|message| contract(&message))?;
        let footprint = Footprint::of(&component, &bytes).map_err(|message| compile(&message))?;
        make_memory_images(&component).map_err(|e| compile(&format!("{e:#}")))?;
        let rule = Arc::new(CompiledRule {
            sha256: sha256.clone(),
            footprint,
            hook: exports.hook(),
            slots: footprint.slots(),
            pre,
            exports,
            settings_export,
            accepted_settings: Mutex::default(),
        });
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        compiled.retain(|_, rule| rule.strong_count() > 0);
        compiled.insert(sha256, Arc::downgrade(&rule));
        Ok(rule)
    }

    fn cached(&self, sha256: &str) -> Option<Arc<CompiledRule>> {
        let compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        compiled.get(sha256).and_then(Weak::upgrade)
    }

    /// A store for one evaluation under `limits`, whose guest traps once `deadline` has passed
    /// and sets `yielded` whenever it yields to let others run (see [`Scheduler::run`]); it may
    /// reach what `grant` allows, and no text it writes repeats `secrets`.
    fn new_store(
        &self,
        limits: &Limits,
        deadline: Instant,
        yielded: Arc<std::sync::atomic::AtomicBool>,
        (grant, secrets): (&Arc<Grant>, Vec<String>),
    ) -> Store<Sandbox> {
        let outbound = CallOutbound::new(
            grant.clone(),
            self.outbound.clone(),
            deadline,
            limits.max_outbound_requests,
            limits.max_outbound_response_bytes,
        );
        let sandbox = Sandbox::new(
            limits.max_memory_bytes,
            limits.max_log_bytes,
            outbound,
            secrets,
        );
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|sandbox| sandbox);
        store.set_hostcall_fuel(limits.max_response_bytes * HOSTCALL_BYTES_PER_ANSWER_BYTE);
        store
            .set_fuel(limits.fuel.unwrap_or(u64::MAX))
            .expect("fuel is enabled on the engine");
        if self.precise_fuel {
            store
                .fuel_async_yield_interval(Some(PRECISE_FUEL_INTERVAL))
                .expect("fuel is enabled on the engine");
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                return Err(DeadlineExceeded.into());
            }
            // `yield_now` defers the wake-up until tokio has polled its I/O driver; a plain yield
            // keeps the task runnable and starves new connections for up to 61 ticks.
            yielded.store(true, std::sync::atomic::Ordering::Release);
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        store
    }

    /// Runs `rule` on `request` (of the rule's hook type) in a fresh instance under `limits`,
    /// with outbound HTTP as far as `grant` allows, answering by `deadline` (waiting for pool
    /// slots and the CPU counts against it). The CPU it uses is charged to `share` and `route`.
    pub async fn evaluate(
        &self,
        rule: &CompiledRule,
        request: hooks::Request,
        limits: &Limits,
        grant: &Arc<Grant>,
        deadline: Instant,
        (share, route): (&Arc<Share>, &RouteUsage),
    ) -> (Result<hooks::Decision, RuleFailure>, Usage) {
        let started = Instant::now();
        let Some(_slots) = acquire_by(&self.slots, rule.slots, deadline).await else {
            let failure =
                RuleFailure::Concurrency("no instance slot became free before the deadline");
            return (Err(failure), Usage::default());
        };
        let yielded = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let secrets = request.secrets();
        // The store lives here so that a call stopped by the timer below can still be read.
        let mut store = Some(self.new_store(limits, deadline, yielded.clone(), (grant, secrets)));
        let store_ready = Instant::now();
        let mut instantiated = None;
        let mut called = None;
        let call = async {
            let running = store.as_mut().expect("the store lives until the call ends");
            let outcome = async {
                let instance = rule.pre.instantiate_async(&mut *running).await?;
                instantiated = Some(Instant::now());
                rule.exports
                    .evaluate(&mut *running, &instance, request)
                    .await
            }
            .await;
            called = Some(Instant::now());
            let ended = Ended::read(Some(outcome), running, limits);
            // Returning the instance's slot to the pool resets its memory, which costs as much
            // as the call for a rule that filled it (2 ms for 32 MB): a big memory is released
            // here, under the tenant's run slot and charged to its share, rather than on a
            // worker the scheduler believes free. A small one (25–35 µs for a Rust rule) is
            // released after the slot is given back: under it, every call held its slot
            // about twice as long and the single-tenant path spent 7.7% more instructions per
            // request queueing for slots (benches/instructions.sh).
            if ended.memory_bytes >= RELEASED_UNDER_THE_SLOT {
                drop(store.take());
            }
            ended
        };
        // The epoch callback traps a running guest at its deadline (within one tick). The timer is
        // the backstop for a guest waiting in a host call, where no epoch check runs. The call's
        // future (4 KiB: wasmtime's instantiation and call) is boxed once here, so that the
        // scheduler and the timer wrap a pointer instead of copying it at each layer.
        let call = self.scheduler.run(share, route, &yielded, Box::pin(call));
        let outcome = tokio::time::timeout_at((deadline + 2 * EPOCH_TICK).into(), call).await;
        let stopped_while_waiting = outcome.is_err();
        let Ended {
            result,
            fuel,
            memory_bytes,
        } = outcome.unwrap_or_else(|_elapsed| {
            called = Some(Instant::now());
            let mut stopped = store
                .take()
                .expect("a call stopped by the timer keeps its store");
            Ended::read(None, &mut stopped, limits)
        });
        drop(store);
        let finished = Instant::now();
        let usage = Usage {
            fuel,
            stopped_by_deadline: matches!(result, Err(RuleFailure::Deadline(_))),
            stopped_while_waiting,
            elapsed: finished - started,
            memory_bytes,
            store: store_ready - started,
            instantiate: instantiated.map_or(Duration::ZERO, |at| at - store_ready),
            release: called.map_or(Duration::ZERO, |at| finished - at),
        };
        (result, usage)
    }

    /// Checks `settings` with `rule`'s `validate-settings`, once, in a fresh instance under
    /// `limits` (deadline, memory, fuel): what loading a route does before it serves. A rule
    /// without the export accepts everything. Accepted settings are remembered per rule, so an
    /// unchanged route is not checked again; a refusal is not, so a later load checks again.
    pub async fn validate_settings(
        &self,
        rule: &CompiledRule,
        settings: &str,
        limits: &Limits,
    ) -> Result<(), SettingsRefused> {
        let Some(export) = &rule.settings_export else {
            return Ok(());
        };
        if rule.accepted(settings, limits) {
            return Ok(());
        }
        let slots = acquire_by(&self.slots, rule.slots, Instant::now() + SETTINGS_SLOT_WAIT).await;
        let Some(_slots) = slots else {
            return Err(SettingsRefused::Failed(RuleFailure::Concurrency(
                "no instance slot became free to check the settings",
            )));
        };
        let deadline = Instant::now() + limits.deadline;
        let yielded = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Checking settings reaches nothing: a rule's outbound calls are for its hook calls.
        let no_grant = Arc::new(Grant::default());
        let mut store = self.new_store(limits, deadline, yielded, (&no_grant, Vec::new()));
        // The rule's log lines, if any, say which rule and what they are about.
        let span = tracing::info_span!("validate_settings", rule = &rule.sha256[..12]);
        let call = tracing::Instrument::instrument(
            async {
                let instance = rule.pre.instantiate_async(&mut store).await?;
                export.validate(&mut store, &instance, settings).await
            },
            span,
        );
        let outcome = tokio::time::timeout_at((deadline + 2 * EPOCH_TICK).into(), call).await;
        let result = match outcome {
            Err(_elapsed) => Err(SettingsRefused::Failed(RuleFailure::Deadline(
                limits.deadline,
            ))),
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(SettingsRefused::ByRule(GuestText::new(
                &message,
                SETTINGS_MESSAGE_BYTES,
            ))),
            Ok(Err(error)) => Err(SettingsRefused::Failed(classify(
                error,
                store.data_mut(),
                limits,
            ))),
        };
        drop(store);
        if result.is_ok() {
            let mut accepted = rule
                .accepted_settings
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if accepted.len() >= ACCEPTED_SETTINGS_KEPT {
                accepted.clear();
            }
            accepted.insert((settings.to_owned(), limits.clone()));
        }
        result
    }

    /// [`Runtime::validate_settings`] for synchronous callers (loading a configuration, which
    /// compiles rules too): runs it on a thread of its own with a small tokio runtime, so it
    /// works whether or not the caller is inside one.
    pub fn validate_settings_blocking(
        &self,
        rule: &CompiledRule,
        settings: &str,
        limits: &Limits,
    ) -> Result<(), SettingsRefused> {
        if !rule.validates_settings() || rule.accepted(settings, limits) {
            return Ok(());
        }
        std::thread::scope(|scope| {
            let checking = scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(self.validate_settings(rule, settings, limits)),
                    Err(error) => Err(SettingsRefused::Failed(RuleFailure::Trap(format!(
                        "the host could not start checking them: {error}"
                    )))),
                }
            });
            checking
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Benchmark support, never used to serve (the server never reuses an instance): calls `rule`
    /// twice in one instance and returns how long each call took. The difference is what the
    /// guest does on its first call only (language runtime start-up, constructors).
    #[doc(hidden)]
    pub async fn time_two_calls_in_one_instance(
        &self,
        rule: &CompiledRule,
        request: &hooks::Request,
        limits: &Limits,
    ) -> wasmtime::Result<[Duration; 2]> {
        let yielded = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let deadline = Instant::now() + limits.deadline;
        let no_grant = Arc::new(Grant::default());
        let mut store = self.new_store(limits, deadline, yielded, (&no_grant, Vec::new()));
        let instance = rule.pre.instantiate_async(&mut store).await?;
        let mut took = [Duration::ZERO; 2];
        for call in &mut took {
            let request = request.clone();
            let started = Instant::now();
            let decision = rule
                .exports
                .evaluate(&mut store, &instance, request)
                .await?;
            *call = started.elapsed();
            decision.map_err(wasmtime::Error::msg)?;
        }
        Ok(took)
    }
}

/// Makes the copy-on-write images of `component`'s memories now, at load, rather than in its
/// first call. Sealing an image (a memfd) fails with `EBUSY` while the kernel still holds
/// references to its freshly written pages, a transient race seen under load (a Python rule's
/// image is megabytes); wasmtime does not keep the failure, so a few attempts are made. A rule
/// that still fails is refused at load, not in a call.
fn make_memory_images(component: &Component) -> wasmtime::Result<()> {
    const ATTEMPTS: u64 = 4;
    let mut attempt = 1;
    loop {
        match component.initialize_copy_on_write_image() {
            Err(error) if attempt < ATTEMPTS => {
                tracing::debug!(%error, attempt, "making a rule's memory images failed; retrying");
                std::thread::sleep(Duration::from_millis(20 * attempt));
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Takes `permits` of `semaphore`, waiting until `deadline` at most; `None` if they did not
/// become free by then (or the semaphore is closed). Free permits are taken without a timer.
pub async fn acquire_by(
    semaphore: &Semaphore,
    permits: u32,
    deadline: Instant,
) -> Option<tokio::sync::SemaphorePermit<'_>> {
    if let Ok(permit) = semaphore.try_acquire_many(permits) {
        return Some(permit);
    }
    let wait = tokio::time::timeout_at(deadline.into(), semaphore.acquire_many(permits));
    wait.await.ok()?.ok()
}

/// A guest memory at least this big is reset while its evaluation still holds its run slot.
const RELEASED_UNDER_THE_SLOT: usize = 8 << 20;

/// What an evaluation left in its store, read before the store is released.
struct Ended {
    result: Result<hooks::Decision, RuleFailure>,
    /// See [`Usage::fuel`].
    fuel: u64,
    memory_bytes: usize,
}

impl Ended {
    /// Reads the call's `outcome`, or `None` when the timer stopped it while it waited.
    fn read(
        outcome: Option<wasmtime::Result<Result<hooks::Decision, String>>>,
        store: &mut Store<Sandbox>,
        limits: &Limits,
    ) -> Ended {
        let result = match outcome {
            None => Err(RuleFailure::Deadline(limits.deadline)),
            Some(Ok(Ok(decision))) => Ok(decision),
            Some(Ok(Err(message))) => Err(RuleFailure::RuleError(
                store.data_mut().guest_text(&message),
            )),
            Some(Err(error)) => Err(classify(error, store.data_mut(), limits)),
        };
        let fuel = limits.fuel.unwrap_or(u64::MAX) - store.get_fuel().unwrap_or(0);
        let sandbox = store.data();
        if sandbox.log_lines_truncated > 0 {
            tracing::warn!(
                lines = sandbox.log_lines_truncated,
                "guest log output truncated"
            );
        }
        Ended {
            result,
            fuel,
            memory_bytes: sandbox.memory_bytes,
        }
    }
}

/// Names the limit a failed guest hit, or describes its trap.
fn classify(error: wasmtime::Error, sandbox: &mut Sandbox, limits: &Limits) -> RuleFailure {
    if error.is::<DeadlineExceeded>() {
        return RuleFailure::Deadline(limits.deadline);
    }
    if error.is::<PoolConcurrencyLimitError>() {
        return RuleFailure::Concurrency("the instance pool is exhausted");
    }
    // wasmtime's hostcall fuel ran out: the guest handed over more data than the route allows
    // (its type is private; wasmtime is pinned and a test covers the message).
    let hostcall_fuel = "fuel allocated for hostcalls has been exhausted";
    if error
        .chain()
        .any(|cause| cause.to_string().contains(hostcall_fuel))
    {
        return RuleFailure::TooMuchData(
            limits.max_response_bytes * HOSTCALL_BYTES_PER_ANSWER_BYTE,
        );
    }
    let trap = error.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::OutOfFuel) {
        return RuleFailure::Fuel(limits.fuel.unwrap_or(u64::MAX));
    }
    // A refused memory.grow usually ends in an abort (Rust's allocation failure handler).
    if sandbox.memory_cap_hit {
        return RuleFailure::MemoryCap(limits.max_memory_bytes);
    }
    // The full error (with the guest backtrace) is for the operator's log only.
    tracing::debug!(error = %GuestText::new(&format!("{error:?}"), 16 << 10), "guest failed");
    // The cause, without wasmtime's context lines (the wasm backtrace is in the debug line).
    let message = trap.map_or_else(|| error.root_cause().to_string(), |t| t.to_string());
    let message = GuestText::new(&message, 4 << 10);
    let stderr = sandbox.stderr();
    RuleFailure::Trap(hints::with_hint(if stderr.is_empty() {
        message.to_string()
    } else {
        format!("{message}; guest stderr: {stderr}")
    }))
}

/// Most bytes of a load error's message: wasmtime's own are short, but one may quote names from
/// the component.
const LOAD_MESSAGE_BYTES: usize = 4 << 10;

/// A load error's message as the log, `check` and `/readyz` show it: on one line (wasmtime lists
/// bytes one per line), escaped and capped as guest text (it may quote the component), with a
/// hint when it shows a toolchain mistake that docs/writing-rules.md knows.
fn load_message(message: &str) -> String {
    hints::with_hint(GuestText::one_line(message, LOAD_MESSAGE_BYTES).to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
