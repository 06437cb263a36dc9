//! Tenants: who may call `POST /hooks/{tenant}`, and which rule answers which of its hook calls.
//!
//! A [`Tenants`] set is built completely (every rule compiled) before it serves anything, and is
//! never modified afterwards: a reload builds a new set and swaps it in whole. Built with
//! [`Tenants::rebuild`], a tenant whose definition or rule fails to load keeps its previous
//! version, so one broken file never takes a working hook down, nor another tenant.

pub mod auth;
pub mod breaker;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Semaphore;

use crate::config::{Config, ConfigError, TenantConfig};
use crate::hooks::HookType;
use crate::okta::FailurePolicy;
use crate::routing::RouteTable;
use crate::runtime::{CompiledRule, Limits, Runtime};
use crate::scheduler::{RouteUsage, Share};
pub use auth::Authenticator;
use breaker::Breaker;

/// Every configured tenant, by id, and the tenants that failed to load.
#[derive(Default)]
pub struct Tenants {
    by_id: HashMap<String, Arc<Tenant>>,
    /// Tenants whose latest definition failed to load, with the reason. Each keeps serving its
    /// previous version, if it had one.
    pub errors: BTreeMap<String, ConfigError>,
}

/// One tenant, ready to serve.
pub struct Tenant {
    pub id: String,
    pub auth: Authenticator,
    pub routes: RouteTable,
    /// Permits for concurrent evaluations of this tenant's rules. Carried over by a reload that
    /// keeps the limit, so calls in flight across a swap still count.
    pub evaluations: Arc<Semaphore>,
    max_concurrent_evaluations: usize,
    /// The tenant's share of the CPU and the CPU it used; carried over by a reload that keeps
    /// the weight.
    pub share: Arc<Share>,
}

/// A route with its rule compiled.
pub struct Route {
    /// The hook type of `event_type`, which is also the rule's.
    pub hook: HookType,
    pub event_type: String,
    pub request_type: Option<String>,
    pub rule: Arc<CompiledRule>,
    /// The rule file, for logs and status.
    pub rule_path: PathBuf,
    /// A short name for logs and metric labels: the rule file's stem.
    pub rule_name: String,
    /// Settings handed to the rule, as JSON text.
    pub settings: String,
    pub limits: Limits,
    pub on_failure: FailurePolicy,
    /// When this version of the rule (by content) started serving this route.
    pub loaded_at: SystemTime,
    /// CPU used by the route's evaluations. Carried over, with the breaker, by a reload that
    /// changes nothing of the route (rule, settings, limits, breaker).
    pub usage: Arc<RouteUsage>,
    pub breaker: Arc<Breaker>,
}

impl Tenants {
    /// Builds every tenant of `config`, compiling their rules (identical modules once). Any
    /// invalid tenant is an error: used at start-up and by `wasmhook check`.
    pub fn build(config: &Config, runtime: &Runtime) -> Result<Tenants, ConfigError> {
        let mut tenants = Tenants::rebuild(config, runtime, &Tenants::default());
        match std::mem::take(&mut tenants.errors).into_values().next() {
            Some(error) => Err(error),
            None => Ok(tenants),
        }
    }

    /// Builds the tenants of `config` for a reload: a tenant that fails to load keeps its version
    /// from `previous` (if any) and is listed in `errors`; tenants no longer configured are gone.
    pub fn rebuild(config: &Config, runtime: &Runtime, previous: &Tenants) -> Tenants {
        let mut tenants = Tenants::default();
        let mut errors = config.invalid_tenants.clone();
        for tenant in &config.tenants {
            match Tenant::build(tenant, runtime, previous.get(&tenant.id).map(Arc::as_ref)) {
                Ok(built) => {
                    tenants.by_id.insert(tenant.id.clone(), Arc::new(built));
                }
                Err((location, message)) => {
                    let file = config.file.clone();
                    errors.push((
                        tenant.id.clone(),
                        ConfigError {
                            file,
                            location,
                            message,
                        },
                    ));
                }
            }
        }
        for (id, error) in errors {
            if let Some(old) = previous.get(&id) {
                tenants.by_id.insert(id.clone(), old.clone());
            }
            tenants.errors.insert(id, error);
        }
        tenants
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }
}

impl Tenant {
    fn build(
        config: &TenantConfig,
        runtime: &Runtime,
        previous: Option<&Tenant>,
    ) -> Result<Tenant, (String, String)> {
        let routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| {
                let rule = runtime
                    .load(&route.rule, route.limits.max_module_bytes)
                    .map_err(|e| {
                        (
                            format!("tenant `{}`: routes[{i}].rule: ", config.id),
                            e.to_string(),
                        )
                    })?;
                if rule.hook != route.hook {
                    let message = format!(
                        "{} is a {} rule (it exports `{}`), but the route takes `{}` calls, \
                         which need a {} rule",
                        route.rule.display(),
                        rule.hook,
                        crate::runtime::interface_name(rule.hook),
                        route.event_type,
                        route.hook
                    );
                    return Err((
                        format!("tenant `{}`: routes[{i}].rule: ", config.id),
                        message,
                    ));
                }
                // Settings the rule refuses would fail every call: the route does not load.
                runtime
                    .validate_settings_blocking(&rule, &route.settings, &route.limits)
                    .map_err(|e| {
                        (
                            format!("tenant `{}`: routes[{i}].settings: ", config.id),
                            e.to_string(),
                        )
                    })?;
                let unchanged = previous
                    .into_iter()
                    .flat_map(|tenant| tenant.routes.iter())
                    .find(|old| old.rule_path == route.rule && old.rule.sha256 == rule.sha256);
                let unchanged_since = unchanged.map(|old| old.loaded_at);
                // Anything else that changed is a new deploy: its breaker starts closed.
                let same_route = unchanged.filter(|old| {
                    old.event_type == route.event_type
                        && old.request_type == route.request_type
                        && old.settings == route.settings
                        && old.limits == route.limits
                        && old.breaker.config() == route.circuit_breaker
                });
                let rule_name = route.rule.file_stem().unwrap_or_default().to_string_lossy();
                Ok(Route {
                    hook: route.hook,
                    event_type: route.event_type.clone(),
                    request_type: route.request_type.clone(),
                    rule,
                    rule_path: route.rule.clone(),
                    rule_name: rule_name.into_owned(),
                    settings: route.settings.clone(),
                    limits: route.limits.clone(),
                    on_failure: route.on_failure,
                    loaded_at: unchanged_since.unwrap_or_else(SystemTime::now),
                    usage: same_route.map_or_else(Default::default, |old| old.usage.clone()),
                    breaker: same_route.map_or_else(
                        || Arc::new(Breaker::new(route.circuit_breaker)),
                        |old| old.breaker.clone(),
                    ),
                })
            })
            .collect::<Result<Vec<_>, (String, String)>>()?;
        let evaluations = previous
            .filter(|old| old.max_concurrent_evaluations == config.max_concurrent_evaluations)
            .map(|old| old.evaluations.clone())
            .unwrap_or_else(|| Arc::new(Semaphore::new(config.max_concurrent_evaluations)));
        Ok(Tenant {
            id: config.id.clone(),
            auth: Authenticator::new(&config.auth, previous.map(|old| &old.auth))
                .map_err(|message| (format!("tenant `{}`: auth: ", config.id), message))?,
            routes: RouteTable::new(routes),
            evaluations,
            max_concurrent_evaluations: config.max_concurrent_evaluations,
            share: previous
                .filter(|old| old.share.weight() == config.weight)
                .map_or_else(
                    || Arc::new(Share::new(config.weight)),
                    |old| old.share.clone(),
                ),
        })
    }
}
