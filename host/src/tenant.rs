//! Tenants: who may call `POST /hooks/{tenant}`, and which rule answers which of its hook calls.
//!
//! A [`Tenants`] set is built completely (every rule compiled) from a validated config before it
//! serves anything, so a rule that fails to load never replaces a working one.

pub mod auth;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, ConfigError, TenantConfig};
use crate::okta::FailurePolicy;
use crate::routing::RouteTable;
use crate::runtime::{CompiledRule, Limits, Runtime};
pub use auth::HeaderSecret;
use tokio::sync::Semaphore;

/// Every configured tenant, by id.
pub struct Tenants {
    by_id: HashMap<String, Arc<Tenant>>,
}

/// One tenant, ready to serve.
pub struct Tenant {
    pub id: String,
    pub auth: HeaderSecret,
    pub routes: RouteTable,
    /// Permits for concurrent evaluations of this tenant's rules.
    pub evaluations: Semaphore,
}

/// A route with its rule compiled.
pub struct Route {
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
}

impl Tenants {
    /// Compiles every rule of `config` (identical modules once) and builds the tenants.
    pub fn build(config: &Config, runtime: &Runtime) -> Result<Tenants, ConfigError> {
        let by_id = config
            .tenants
            .iter()
            .map(|tenant| {
                let built =
                    Tenant::build(tenant, runtime).map_err(|(location, message)| ConfigError {
                        file: config.file.clone(),
                        location,
                        message,
                    })?;
                Ok((tenant.id.clone(), Arc::new(built)))
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Tenants { by_id })
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
    fn build(config: &TenantConfig, runtime: &Runtime) -> Result<Tenant, (String, String)> {
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
                let rule_name = route.rule.file_stem().unwrap_or_default().to_string_lossy();
                Ok(Route {
                    event_type: route.event_type.clone(),
                    request_type: route.request_type.clone(),
                    rule,
                    rule_path: route.rule.clone(),
                    rule_name: rule_name.into_owned(),
                    settings: route.settings.clone(),
                    limits: route.limits.clone(),
                    on_failure: route.on_failure,
                })
            })
            .collect::<Result<Vec<_>, (String, String)>>()?;
        Ok(Tenant {
            id: config.id.clone(),
            auth: HeaderSecret::new(&config.auth),
            routes: RouteTable::new(routes),
            evaluations: Semaphore::new(config.max_concurrent_evaluations),
        })
    }
}
