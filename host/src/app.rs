//! The server's shared state: the runtime, the current tenant set and the metrics.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::runtime::Runtime;
use crate::tenant::Tenants;

pub struct App {
    pub runtime: Runtime,
    /// Swapped whole, never mutated: a request keeps the snapshot it started with.
    tenants: ArcSwap<Tenants>,
    pub metrics: Metrics,
}

impl App {
    /// Builds the runtime and compiles every rule of `config`.
    pub fn load(config: &Config) -> anyhow::Result<App> {
        let runtime = Runtime::new().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let tenants = Tenants::build(config, &runtime)?;
        Ok(App {
            runtime,
            tenants: ArcSwap::from_pointee(tenants),
            metrics: Metrics::default(),
        })
    }

    /// The current tenant set.
    pub fn tenants(&self) -> Arc<Tenants> {
        self.tenants.load_full()
    }
}
