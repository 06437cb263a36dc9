//! `wasmhook check`: validate a config and load every rule it names, as start-up would, and
//! report every problem found, not only the first.

use std::collections::HashSet;
use std::path::Path;

use anyhow::bail;

use crate::config::Config;
use crate::registry::Registry;
use crate::runtime::Runtime;
use crate::tenant::Tenants;

pub async fn check(config: &Path) -> anyhow::Result<()> {
    let config = Config::load_lenient(config, None)?;
    let runtime = Runtime::new(config.cache_dir.as_deref())?;
    let pulled = Registry::new(config.cache_dir.as_deref())
        .pull_all(&config)
        .await;
    let mut tenants = Tenants::rebuild(&config, &runtime, &pulled, &Tenants::default());
    let problems = tenants.problems();
    let mut loaded: Vec<_> = tenants.iter().collect();
    loaded.sort_by(|a, b| a.id.cmp(&b.id));
    let routes: Vec<_> = loaded
        .iter()
        .flat_map(|t| t.routes.iter().map(move |route| (t, route)))
        .collect();
    let modules: HashSet<_> = routes
        .iter()
        .flat_map(|(_, r)| std::iter::once(&r.rule).chain(r.shadow.as_ref().map(|s| &s.rule)))
        .map(|rule| rule.sha256.as_str())
        .collect();
    let verdict = if problems.is_empty() { "ok" } else { "loaded" };
    println!(
        "{}: {verdict} ({} tenants, {} routes, {} distinct rule modules)",
        config.file.display(),
        loaded.len(),
        routes.len(),
        modules.len()
    );
    for (tenant, route) in routes {
        let request_type = route
            .request_type
            .as_deref()
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        let shadow = route
            .shadow
            .as_ref()
            .map(|s| format!(", shadow {} ({})", s.rule_source, &s.rule.sha256[..12]))
            .unwrap_or_default();
        println!(
            "  {}: {}{request_type} -> {} rule {} ({}){shadow}",
            tenant.id,
            route.event_type,
            route.hook,
            route.rule_source,
            &route.rule.sha256[..12]
        );
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    match problems.len() {
        0 => Ok(()),
        1 => bail!("1 problem in {}", config.file.display()),
        n => bail!("{n} problems in {}", config.file.display()),
    }
}
