//! The operators' files in `deploy/observability/` (Prometheus alert rules, a Grafana dashboard)
//! name only metrics the server exports, with the suffixes their types give them.

use std::collections::BTreeSet;

use std::time::Duration;

use crate::common::{
    AUTH, SSR_OIE, TestServer, email_domain_tenant, misbehave_config, repo_root, rule, write_config,
};

/// Every `wasmhook_…` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("wasmhook_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

/// The sample names `/metrics` can carry: each family's name with its type's suffixes.
async fn exported(server: &TestServer) -> BTreeSet<String> {
    let metrics = server.get("/metrics").await.body;
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        let Some(declared) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (family, kind) = declared.split_once(' ').unwrap();
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|suffix| format!("{family}{suffix}")));
    }
    names
}

/// A server whose every metric family has a sample: labelled families appear once used.
async fn exercised_server() -> TestServer {
    let queue = std::env::temp_dir().join(format!(
        "wasmhook-observability-{}.redb",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&queue);
    let events = format!(
        "[[tenants.demo.routes]]\nevent_type = \"*\"\nrule = \"{}\"\n\
         settings = {{ forward_url = \"http://127.0.0.1:9/\" }}\n\
         allowed_outbound_hosts = [\"http://127.0.0.1:9\"]\n",
        rule("event_forward").display()
    );
    let toml = format!(
        "[events]\nqueue = \"{}\"\n{}{events}{}",
        queue.display(),
        email_domain_tenant("demo"),
        misbehave_config("panic", ""),
    );
    let config = write_config(&toml);
    let server = TestServer::start(&config).await;
    server.hook("/hooks/demo", SSR_OIE).await;
    server.hook("/hooks/t", SSR_OIE).await;
    let wrong = ("authorization", "Basic d3Jvbmc6c2VjcmV0");
    server
        .request("POST", "/hooks/demo", &[wrong], SSR_OIE)
        .await;
    let delivery =
        std::fs::read_to_string(crate::common::fixture("event-hook-delivery.json")).unwrap();
    server
        .request("POST", "/hooks/demo", &[AUTH], delivery)
        .await;
    // A reload, seen by the file watcher.
    std::fs::write(&config, format!("{toml}\n# touched\n")).unwrap();
    for _ in 0..250 {
        if server
            .get("/metrics")
            .await
            .body
            .contains("wasmhook_reloads_total")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
}

#[tokio::test]
async fn alert_rules_and_dashboard_use_only_exported_metrics() {
    let server = exercised_server().await;
    let exported = exported(&server).await;
    assert!(
        exported.contains("wasmhook_hook_duration_seconds_bucket"),
        "{exported:?}"
    );
    let folder = repo_root().join("deploy/observability");
    let alerts = std::fs::read_to_string(folder.join("alerts.yaml")).unwrap();
    let dashboard = std::fs::read_to_string(folder.join("grafana-dashboard.json")).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(
        parsed["panels"]
            .as_array()
            .is_some_and(|panels| panels.len() >= 8)
    );
    for (file, text) in [
        ("alerts.yaml", &alerts),
        ("grafana-dashboard.json", &dashboard),
    ] {
        let used = metric_names(text);
        assert!(used.len() >= 8, "{file}: {used:?}");
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the server does not export: {unknown:?}"
        );
    }
    // The alerts: failure rate by kind, p99 near Okta's 3 s, reload failures,
    // degraded tenants.
    for alert in [
        "WasmhookRuleFailures",
        "WasmhookSlowAnswers",
        "WasmhookReloadFailed",
        "WasmhookTenantsDegraded",
    ] {
        assert!(alerts.contains(&format!("alert: {alert}")), "{alert}");
    }
    server.stop().await;
}
