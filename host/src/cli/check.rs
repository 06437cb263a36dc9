//! `wasmhook check`: validate a config and load every rule it names, as start-up would.

use std::collections::HashSet;
use std::path::Path;

use crate::config::Config;
use crate::runtime::Runtime;
use crate::tenant::Tenants;

pub fn check(config: &Path) -> anyhow::Result<()> {
    let config = Config::load(config, None)?;
    let runtime = Runtime::new(config.cache_dir.as_deref())?;
    let tenants = Tenants::build(&config, &runtime)?;
    let routes: Vec<_> = tenants
        .iter()
        .flat_map(|t| t.routes.iter().map(move |route| (t, route)))
        .collect();
    let modules: HashSet<_> = routes.iter().map(|(_, r)| r.rule.sha256.as_str()).collect();
    println!(
        "{}: ok ({} tenants, {} routes, {} distinct rule modules)",
        config.file.display(),
        tenants.len(),
        routes.len(),
        modules.len()
    );
    for (tenant, route) in routes {
        let request_type = route
            .request_type
            .as_deref()
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        println!(
            "  {}: {}{request_type} -> {} rule {} ({})",
            tenant.id,
            route.event_type,
            route.hook,
            route.rule_path.display(),
            &route.rule.sha256[..12]
        );
    }
    Ok(())
}
