//! Tenants: who may call `POST /hooks/{tenant}`, and which rule answers which of its hook calls.
//!
//! A [`Tenants`] set is built completely (every rule compiled) before it serves anything, and is
//! never modified afterwards: a reload builds a new set and swaps it in whole. Built with
//! [`Tenants::rebuild`], a tenant whose definition or rule fails to load keeps its previous
//! version, so one broken file never takes a working hook down, nor another tenant.

pub mod auth;
pub mod breaker;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Semaphore;

use crate::config::{Config, ConfigError, Problems, RouteConfig, RuleSource, TenantConfig};
use crate::hook::shadow::{Shadow, Tally};
use crate::hooks::HookType;
use crate::hooks::event::EventPattern;
use crate::okta::FailurePolicy;
use crate::registry::PulledRules;
use crate::routing::RouteTable;
use crate::runtime::outbound::Grant;
use crate::runtime::{CompiledRule, Limits, Runtime};
use crate::scheduler::{RouteUsage, Share};
use crate::telemetry::RepeatedLine;
pub use auth::Authenticator;
use breaker::Breaker;

/// Every configured tenant, by id, and the tenants that failed to load.
#[derive(Default)]
pub struct Tenants {
    by_id: HashMap<String, Arc<Tenant>>,
    /// Tenants whose latest definition failed to load, with every reason found. Each keeps
    /// serving its previous version, if it had one.
    pub errors: BTreeMap<String, Vec<ConfigError>>,
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
    /// For an event route, the System Log event types it handles.
    pub events: Option<EventPattern>,
    pub rule: Arc<CompiledRule>,
    /// Where the rule came from (a file or an OCI reference), for logs and status.
    pub rule_source: RuleSource,
    /// For a rule from a registry, the manifest digest it was pulled at.
    pub rule_digest: Option<String>,
    /// A short name for logs and metric labels: the rule file's stem or repository's name.
    pub rule_name: String,
    /// Settings handed to the rule, as JSON text.
    pub settings: String,
    pub limits: Limits,
    /// What the rule may reach over HTTP (nothing by default).
    pub outbound: Arc<Grant>,
    pub on_failure: FailurePolicy,
    /// When this version of the rule (by content) started serving this route.
    pub loaded_at: SystemTime,
    /// CPU used by the route's evaluations. Carried over, with the breaker, by a reload that
    /// changes nothing of the route (rule, settings, limits, breaker).
    pub usage: Arc<RouteUsage>,
    pub breaker: Arc<Breaker>,
    /// The candidate rule evaluated beside this one, off the answer path (see [`crate::hook::shadow`]).
    pub shadow: Option<Arc<Shadow>>,
    /// The line logged when a call is not run (breaker open, tenant over its share).
    pub not_run_line: RepeatedLine,
}

impl Tenants {
    /// Builds every tenant of `config`, compiling their rules (identical modules once; those
    /// from a registry as `pulled` holds them). Any invalid tenant is an error, and every
    /// problem is named: used at start-up.
    pub fn build(
        config: &Config,
        runtime: &Runtime,
        pulled: &PulledRules,
    ) -> Result<Tenants, Problems> {
        let mut tenants = Tenants::rebuild(config, runtime, pulled, &Tenants::default());
        match tenants.problems() {
            problems if problems.is_empty() => Ok(tenants),
            problems => Err(Problems(problems)),
        }
    }

    /// Every load problem of every tenant, in tenant order.
    pub fn problems(&mut self) -> Vec<ConfigError> {
        std::mem::take(&mut self.errors)
            .into_values()
            .flatten()
            .collect()
    }

    /// Builds the tenants of `config` for a reload: a tenant that fails to load keeps its version
    /// from `previous` (if any) and is listed in `errors`; tenants no longer configured are gone.
    pub fn rebuild(
        config: &Config,
        runtime: &Runtime,
        pulled: &PulledRules,
        previous: &Tenants,
    ) -> Tenants {
        let mut tenants = Tenants::default();
        let mut errors: BTreeMap<String, Vec<ConfigError>> = BTreeMap::new();
        for (id, error) in &config.invalid_tenants {
            errors.entry(id.clone()).or_default().push(error.clone());
        }
        for tenant in &config.tenants {
            let kept = previous.get(&tenant.id).map(Arc::as_ref);
            match Tenant::build(tenant, runtime, pulled, kept) {
                Ok(built) => {
                    tenants.by_id.insert(tenant.id.clone(), Arc::new(built));
                }
                Err(problems) => {
                    let located = problems.into_iter().map(|(location, message)| ConfigError {
                        file: config.file.clone(),
                        location,
                        message,
                    });
                    errors.entry(tenant.id.clone()).or_default().extend(located);
                }
            }
        }
        for id in errors.keys() {
            if let Some(old) = previous.get(id) {
                tenants.by_id.insert(id.clone(), old.clone());
            }
        }
        tenants.errors = errors;
        runtime.forget_compiled_functions();
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
    /// The event route that handles System Log events of `event_type`: the most specific pattern
    /// that matches (`user.lifecycle.create` before `user.lifecycle.*` before `*`).
    pub fn event_route(&self, event_type: &str) -> Option<&Route> {
        let routes = self.routes.iter();
        crate::hooks::event::most_specific(
            routes.filter_map(|route| Some((route, route.events.as_ref()?))),
            event_type,
        )
    }

    /// Builds a tenant, loading every route's rule; on failure, every problem found (a broken
    /// route does not hide the next one), each with its location.
    fn build(
        config: &TenantConfig,
        runtime: &Runtime,
        pulled: &PulledRules,
        previous: Option<&Tenant>,
    ) -> Result<Tenant, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut routes = Vec::new();
        for (i, route) in config.routes.iter().enumerate() {
            let location = |key: &str| format!("tenant `{}`: routes[{i}].{key}: ", config.id);
            let load = |source, settings, prefix| {
                let at = RuleAt {
                    source,
                    location: &location,
                    prefix,
                };
                load_rule(runtime, pulled, route, at, settings)
            };
            let rule = load(&route.rule, &route.settings, "");
            let shadow = (route.shadow.as_ref())
                .map(|shadow| load(&shadow.rule, &shadow.settings, "shadow_"));
            match (rule, shadow.transpose()) {
                (Ok(rule), Ok(shadow)) => routes.push(Route::new(route, rule, shadow, previous)),
                (rule, shadow) => problems.extend(rule.err().into_iter().chain(shadow.err())),
            }
        }
        let auth = Authenticator::new(&config.auth, previous.map(|old| &old.auth))
            .map_err(|message| (format!("tenant `{}`: auth: ", config.id), message));
        let auth = match auth {
            Ok(auth) if problems.is_empty() => auth,
            Ok(_) => return Err(problems),
            Err(problem) => {
                problems.push(problem);
                return Err(problems);
            }
        };
        let evaluations = previous
            .filter(|old| old.max_concurrent_evaluations == config.max_concurrent_evaluations)
            .map(|old| old.evaluations.clone())
            .unwrap_or_else(|| Arc::new(Semaphore::new(config.max_concurrent_evaluations)));
        Ok(Tenant {
            id: config.id.clone(),
            auth,
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

impl Route {
    /// The calls this route takes, for logs: its event type, and its request type if it has one.
    pub fn label(&self) -> String {
        match &self.request_type {
            Some(request_type) => format!("{} {request_type}", self.event_type),
            None => self.event_type.clone(),
        }
    }

    fn new(
        route: &RouteConfig,
        (rule, rule_digest): Loaded,
        shadow_rule: Option<Loaded>,
        previous: Option<&Tenant>,
    ) -> Route {
        let unchanged = previous
            .into_iter()
            .flat_map(|tenant| tenant.routes.iter())
            .find(|old| old.rule_source == route.rule && old.rule.sha256 == rule.sha256);
        let unchanged_since = unchanged.map(|old| old.loaded_at);
        // Anything else that changed is a new deploy: its breaker starts closed.
        let same_route = unchanged.filter(|old| {
            old.event_type == route.event_type
                && old.request_type == route.request_type
                && old.settings == route.settings
                && old.limits == route.limits
                && *old.outbound == route.outbound
                && old.breaker.config() == route.circuit_breaker
        });
        // The shadow's tally and usage carry over while the same candidate runs with the same
        // settings on an unchanged route.
        let shadow = route
            .shadow
            .as_ref()
            .zip(shadow_rule)
            .map(|(config, (rule, rule_digest))| {
                let same = same_route
                    .and_then(|old| old.shadow.as_ref())
                    .filter(|old| {
                        old.rule.sha256 == rule.sha256 && old.settings == config.settings
                    });
                same.cloned().unwrap_or_else(|| {
                    Arc::new(Shadow {
                        rule,
                        rule_source: config.rule.clone(),
                        rule_digest,
                        rule_name: config.rule.name(),
                        settings: config.settings.clone(),
                        usage: RouteUsage::default(),
                        tally: Tally::default(),
                    })
                })
            });
        Route {
            hook: route.hook,
            event_type: route.event_type.clone(),
            request_type: route.request_type.clone(),
            events: route.events.clone(),
            rule,
            rule_source: route.rule.clone(),
            rule_digest,
            rule_name: route.rule.name(),
            settings: route.settings.clone(),
            limits: route.limits.clone(),
            outbound: Arc::new(route.outbound.clone()),
            on_failure: route.on_failure,
            loaded_at: unchanged_since.unwrap_or_else(SystemTime::now),
            usage: same_route.map_or_else(Default::default, |old| old.usage.clone()),
            breaker: same_route.map_or_else(
                || Arc::new(Breaker::new(route.circuit_breaker)),
                |old| old.breaker.clone(),
            ),
            shadow,
            not_run_line: RepeatedLine::default(),
        }
    }
}

/// A rule ready to serve, with the manifest digest it was pulled at if it came from a registry.
type Loaded = (Arc<CompiledRule>, Option<String>);

/// Which rule of a route is loaded, and where its problems are reported.
struct RuleAt<'a> {
    source: &'a RuleSource,
    location: &'a dyn Fn(&str) -> String,
    /// `""` for the route's rule, `"shadow_"` for its shadow.
    prefix: &'a str,
}

/// Loads a rule for `route` (from its file, or where `pulled` put it): it must be a rule of the
/// route's hook type that accepts `settings` (its `validate-settings`; settings it refuses would
/// fail every call). Problems are located at the route's `{prefix}rule` or `{prefix}settings`
/// key.
fn load_rule(
    runtime: &Runtime,
    pulled: &PulledRules,
    route: &RouteConfig,
    at: RuleAt,
    settings: &str,
) -> Result<Loaded, (String, String)> {
    let at_rule = |message: String| ((at.location)(&format!("{}rule", at.prefix)), message);
    let (file, digest) = pulled.file(at.source).map_err(at_rule)?;
    let rule = runtime
        .load(file, route.limits.max_module_bytes)
        .map_err(|e| at_rule(e.to_string()))?;
    if rule.hook != route.hook {
        return Err(at_rule(format!(
            "{} is a {} rule (it exports `{}`), but the route takes `{}` calls, which need a {} rule",
            at.source,
            rule.hook,
            crate::runtime::interface_name(rule.hook),
            route.event_type,
            route.hook
        )));
    }
    runtime
        .validate_settings_blocking(&rule, settings, &route.limits)
        .map_err(|e| {
            (
                (at.location)(&format!("{}settings", at.prefix)),
                e.to_string(),
            )
        })?;
    Ok((rule, digest.map(str::to_owned)))
}
