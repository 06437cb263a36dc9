//! The WebAssembly runtime: one engine per process, each rule compiled once and shared, and a fresh,
//! limited instance for every evaluation.
//!
//! Why a fresh instance per request: a rule sees personal data of the user being registered, and
//! many tenants share one server, so no guest state may survive from one call to the next. The
//! pooling allocator with copy-on-write memory images keeps that cheap, and `InstancePre` does the
//! import resolution once at load time instead of per request.
//!
//! Limits on each evaluation:
//! - **deadline**: the engine's epoch advances every [`EPOCH_TICK`]; at each tick a running guest
//!   yields to tokio (so a busy rule never stalls the server) and traps once its deadline has
//!   passed. A timer around the whole call also covers time spent waiting in host calls.
//! - **memory**: a per-store [`ResourceLimiter`](wasmtime::ResourceLimiter) caps linear memory.
//! - **log budget**: guest log output per request is capped (see [`sandbox`]).

mod bindings;
mod sandbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
    UpdateDeadline,
};

use bindings::RegistrationRulePre;
pub use bindings::{
    Attribute, Command, Decision, Envelope, ErrorCause, ExistingUser, Flow, HookError,
    RegistrationRequest, RequestContext,
};
use sandbox::Sandbox;

/// How often the engine's epoch advances: the granularity of deadlines and of guest yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Resource limits for one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time the guest may run, from instantiation to its answer.
    pub deadline: Duration,
    /// Largest linear memory the guest may grow to.
    pub max_memory_bytes: usize,
    /// Guest log text allowed per request; lines beyond it are cut or dropped.
    pub log_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(1000),
            max_memory_bytes: 64 << 20,
            log_bytes: 16 << 10,
        }
    }
}

/// Why an evaluation produced no decision. The answer to Okta never carries these details; the log
/// line does.
#[derive(Debug, thiserror::Error)]
pub enum RuleFailure {
    #[error("deadline of {} ms exceeded", .0.as_millis())]
    Deadline(Duration),
    #[error("memory cap of {} bytes exceeded", .0)]
    MemoryCap(usize),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("the rule could not decide: {0}")]
    RuleError(String),
    #[error("invalid decision: {0}")]
    InvalidDecision(String),
}

impl RuleFailure {
    /// A short, stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleFailure::Deadline(_) => "deadline",
            RuleFailure::MemoryCap(_) => "memory",
            RuleFailure::Trap(_) => "trap",
            RuleFailure::RuleError(_) => "rule_error",
            RuleFailure::InvalidDecision(_) => "invalid_output",
        }
    }
}

/// Why a rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
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
    pre: RegistrationRulePre<Sandbox>,
}

/// The process-wide engine, linker and compiled-rule cache. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<Sandbox>>,
    /// Compiled rules by content hash, so identical modules are compiled and held once.
    compiled: Arc<Mutex<HashMap<String, Weak<CompiledRule>>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

impl Runtime {
    /// Builds the engine (component model, epoch interruption, pooling allocator) and starts the
    /// epoch ticker, which stops by itself when the last clone of the engine is dropped.
    pub fn new() -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Pooling: instance slots are reserved up front and reused, and linear memories start
        // from copy-on-write images, so a fresh instance per request costs microseconds.
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(1000);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::add_rule_imports_to_linker(&mut linker)?;

        let weak = engine.weak();
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
        })
    }

    /// Loads a rule file: reads it, and compiles and pre-instantiates it unless a module with the
    /// same bytes is already loaded. Checks that the component fits the rule contract.
    pub fn load(&self, path: &Path) -> Result<Arc<CompiledRule>, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some(rule) = self.cached(&sha256) {
            return Ok(rule);
        }
        let component = Component::new(&self.engine, &bytes).map_err(|e| LoadError::Compile {
            path: path.to_owned(),
            message: format!("{e:#}"),
        })?;
        let contract = |e: wasmtime::Error| LoadError::Contract {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(&component).map_err(contract)?;
        let pre = RegistrationRulePre::new(pre).map_err(contract)?;
        let rule = Arc::new(CompiledRule {
            sha256: sha256.clone(),
            pre,
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

    /// Runs `rule` on `request` in a fresh instance under `limits`.
    pub async fn evaluate(
        &self,
        rule: &CompiledRule,
        request: &RegistrationRequest,
        limits: &Limits,
    ) -> Result<Decision, RuleFailure> {
        let mut store = Store::new(
            &self.engine,
            Sandbox::new(limits.max_memory_bytes, limits.log_bytes),
        );
        store.limiter(|sandbox| sandbox);
        let deadline = Instant::now() + limits.deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                return Err(DeadlineExceeded.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });

        let call = async {
            let instance = rule.pre.instantiate_async(&mut store).await?;
            instance
                .wasmhook_rule_registration()
                .call_evaluate(&mut store, request)
                .await
        };
        let outcome = tokio::time::timeout(limits.deadline, call).await;

        let sandbox = store.data();
        if sandbox.log_lines_truncated > 0 {
            tracing::warn!(
                lines = sandbox.log_lines_truncated,
                "guest log output truncated"
            );
        }
        match outcome {
            Err(_elapsed) => Err(RuleFailure::Deadline(limits.deadline)),
            Ok(Ok(Ok(decision))) => Ok(decision),
            Ok(Ok(Err(message))) => Err(RuleFailure::RuleError(message)),
            Ok(Err(error)) if error.is::<DeadlineExceeded>() => {
                Err(RuleFailure::Deadline(limits.deadline))
            }
            Ok(Err(_)) if sandbox.memory_cap_hit => {
                Err(RuleFailure::MemoryCap(limits.max_memory_bytes))
            }
            Ok(Err(error)) => {
                let trap = error.downcast_ref::<Trap>().map(|t| t.to_string());
                // The full error (with the guest backtrace) is for the operator's log only.
                tracing::debug!(error = ?error, "guest failed");
                let mut message = trap.unwrap_or_else(|| format!("{error:#}"));
                let stderr = sandbox.stderr();
                if !stderr.is_empty() {
                    message = format!("{message}; guest stderr: {stderr}");
                }
                Err(RuleFailure::Trap(message))
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
