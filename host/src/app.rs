//! The server's shared state: the runtime, the current tenant set, metrics and reload status.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use arc_swap::ArcSwap;
use serde_json::{Value, json};

use crate::BoxFuture;
use crate::config::Config;
use crate::decisions::DecisionLog;
use crate::events::{self, EventQueue};
use crate::hook::shadow;
use crate::http::connections::{self, ConnectionLimits};
use crate::http::tls::Certificates;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::tenant::Tenants;

pub struct App {
    pub runtime: Runtime,
    /// Where `oci://` rules are pulled from, into the local store.
    pub registry: Registry,
    /// Swapped whole, never mutated: a call keeps the snapshot it started with.
    tenants: ArcSwap<Tenants>,
    pub metrics: Metrics,
    /// The bound on shadow evaluations, process-wide.
    pub shadows: shadow::Budget,
    /// The configuration file, read again on every reload.
    pub config_file: PathBuf,
    /// The config file's `listen` as last loaded. A reload cannot move the listener; it warns
    /// when this value changes.
    pub(crate) file_listen: Mutex<SocketAddr>,
    /// How many connections may be open, from the config and the descriptor limit at load
    /// (a reload cannot change it).
    pub connection_limits: ConnectionLimits,
    /// Outcome of the latest reload, for `GET /readyz`.
    pub(crate) last_reload: Mutex<Option<ReloadOutcome>>,
    /// Serialises reloads (the watcher, SIGHUP and tests may ask at once).
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// Event hook deliveries waiting for their rules (opened once some tenant has event routes).
    pub events: EventQueue,
    /// The hook listener's certificate when it serves HTTPS (`[tls]`, read at start-up; a
    /// reload reads the files again but cannot turn TLS on or off).
    pub tls: Option<Arc<Certificates>>,
    /// One JSON line per decision, when `decision_log` is set (read at start-up).
    pub decisions: Option<DecisionLog>,
}

pub(crate) struct ReloadOutcome {
    pub at: SystemTime,
    /// Why the configuration file as a whole could not be loaded; `None` when it was.
    pub error: Option<String>,
}

impl App {
    /// Builds the runtime, pulls the rules `config` takes from registries and compiles every
    /// rule; any problem is an error.
    pub fn load(config: &Config) -> BoxFuture<'_, anyhow::Result<App>> {
        Box::pin(async move {
            let runtime = Runtime::new(config.cache_dir.as_deref())?;
            let registry = Registry::new(config.cache_dir.as_deref());
            let pulled = registry.pull_all(config).await;
            let tenants = Tenants::build(config, &runtime, &pulled)?;
            let tls = config.tls.as_ref().map(Certificates::load).transpose()?;
            let metrics = Metrics::default();
            let decisions = match &config.decision_log {
                Some(target) => Some(
                    DecisionLog::open(target, metrics.decision_log_dropped())
                        .with_context(|| format!("cannot open the decision log ({target:?})"))?,
                ),
                None => None,
            };
            Ok(App {
                runtime,
                registry,
                tenants: ArcSwap::from_pointee(tenants),
                metrics,
                shadows: shadow::Budget::default(),
                config_file: config.file.clone(),
                file_listen: Mutex::new(config.file_listen),
                connection_limits: ConnectionLimits::resolve(
                    config.max_connections,
                    config.max_connections_per_client,
                    connections::descriptor_limit(),
                ),
                last_reload: Mutex::new(None),
                reloading: tokio::sync::Mutex::new(()),
                events: EventQueue::default(),
                tls,
                decisions,
            })
        })
    }

    /// The current tenant set.
    pub fn tenants(&self) -> Arc<Tenants> {
        self.tenants.load_full()
    }

    /// Makes `tenants` the current set. Calls in flight finish on the set they started with.
    pub(crate) fn swap(&self, tenants: Tenants) {
        self.tenants.store(Arc::new(tenants));
    }

    /// What is serving: per tenant and route the rule file, its sha256 and since when, plus the
    /// last reload's outcome and each tenant's latest load errors; `degraded` while any tenant
    /// failed to load or the last reload failed. Carries no secret.
    pub fn status(&self) -> Value {
        let tenants = self.tenants();
        let mut by_id = serde_json::Map::new();
        for tenant in tenants.iter() {
            let routes: Vec<Value> = tenant
                .routes
                .iter()
                .map(|route| {
                    json!({
                        "event_type": route.event_type,
                        "request_type": route.request_type,
                        "hook": route.hook.name(),
                        "rule": route.rule_source,
                        "digest": route.rule_digest,
                        "sha256": route.rule.sha256,
                        "loaded_at": timestamp(route.loaded_at),
                        "cpu_seconds": route.usage.cpu().as_secs_f64(),
                        "average_cpu_ms": route.usage.average().as_secs_f64() * 1e3,
                        "circuit": route.breaker.state().name(),
                        "shadow": route.shadow.as_ref().map(|shadow| json!({
                            "rule": shadow.rule_source,
                            "digest": shadow.rule_digest,
                            "sha256": shadow.rule.sha256,
                        })),
                    })
                })
                .collect();
            let tenant_status = json!({
                "weight": tenant.share.weight(),
                "cpu_seconds": tenant.share.cpu().as_secs_f64(),
                "routes": routes,
                "error": null,
            });
            by_id.insert(tenant.id.clone(), tenant_status);
        }
        let mut problems: Vec<String> = Vec::new();
        for (id, errors) in &tenants.errors {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let entry = by_id
                .entry(id.clone())
                .or_insert_with(|| json!({"routes": []}));
            entry["error"] = errors.join("; ").into();
            problems.extend(errors);
        }
        let reload = self.last_reload.lock().unwrap_or_else(|e| e.into_inner());
        problems.extend(reload.as_ref().and_then(|r| r.error.clone()));
        let tls_problem = self.tls.as_ref().and_then(|tls| tls.last_error());
        problems.extend(
            tls_problem.map(|error| format!("{error}; the previous certificate keeps serving")),
        );
        let reload = reload
            .as_ref()
            .map(|r| json!({"at": timestamp(r.at), "error": r.error}));
        // Degraded is still ready (200): every tenant that loaded serves, some on a last good
        // version, and taking the replica out of rotation would only make things worse.
        let status = if problems.is_empty() {
            "ready"
        } else {
            "degraded"
        };
        json!({
            "status": status,
            "problems": problems,
            "last_reload": reload,
            "tenants": by_id,
            "events": events::status(self),
            "tls": self.tls.as_ref().map(|tls| tls.status()),
        })
    }
}

fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}
