//! Shadow rollout: a route's `shadow_rule` runs beside the live rule after each answer, its
//! answers are compared and counted, divergences are logged without profile values, and a
//! shadow that misbehaves never changes, slows or fails a live answer.

use std::time::{Duration, Instant};

use crate::common::{
    AUTH, SSR_OIE, ServeProcess, TestServer, rule, send, tenant_toml, write_config,
};

const ALLOW_EXAMPLE_COM: &str = "{ allowed_domains = [\"example.com\"] }";

/// The shadow-comparison counters of tenant `t` from `/metrics`, as `(outcome, count)`.
fn shadow_counts(metrics: &str) -> Vec<(String, u64)> {
    metrics
        .lines()
        .filter(|line| line.starts_with("wasmhook_shadow_evaluations_total{tenant=\"t\""))
        .map(|line| {
            let outcome = line.split("outcome=\"").nth(1).unwrap().split('"').next();
            let count = line.rsplit(' ').next().unwrap().parse().unwrap();
            (outcome.unwrap().to_owned(), count)
        })
        .collect()
}

fn count(counts: &[(String, u64)], outcome: &str) -> u64 {
    counts
        .iter()
        .find(|(o, _)| o == outcome)
        .map_or(0, |(_, n)| *n)
}

#[test]
fn divergences_are_counted_and_logged_without_profile_values() {
    // Live: only example.com; shadow: the same rule, which would also allow example.org.
    let extra = format!(
        "shadow_rule = \"{}\"\nshadow_settings = {{ allowed_domains = [\"example.com\", \"example.org\"] }}",
        rule("email_domain").display()
    );
    let config = write_config(&tenant_toml(
        "t",
        &rule("email_domain"),
        ALLOW_EXAMPLE_COM,
        &extra,
    ));
    let server = ServeProcess::start(&config, "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let call = |body: String| {
        runtime.block_on(send(
            server.address,
            "POST",
            "/hooks/t",
            &[AUTH],
            body.into(),
        ))
    };
    let org = SSR_OIE.replace("@example.com", "@example.org");
    assert_eq!(call(SSR_OIE.into()).status, 204, "allowed by both");
    let denied = call(org.clone());
    assert_eq!(denied.status, 200);
    assert!(
        denied.body.contains("\"DENY\""),
        "the live rule answers, not the shadow: {}",
        denied.body
    );
    let line = server.wait_for_line(|l| l.contains("the shadow rule answered differently"));
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let fields = &event;
    assert_eq!(fields["live"], "deny", "{line}");
    assert_eq!(fields["shadow"], "no-change", "{line}");
    assert_eq!(fields["rule"], "email_domain", "{line}");
    assert_eq!(fields["shadow_rule"], "email_domain", "{line}");
    let sent: serde_json::Value = serde_json::from_str(&org).unwrap();
    assert_eq!(fields["event_id"], sent["eventId"], "{line}");
    assert!(!line.contains("example.org"), "a profile value in: {line}");

    // Shadows run after the answer, each on its own: the first call's may finish after the
    // second's, whose line was awaited above.
    let fetch_metrics = || {
        runtime
            .block_on(send(
                server.address,
                "GET",
                "/metrics",
                &[],
                Default::default(),
            ))
            .body
    };
    let waited = std::time::Instant::now();
    let mut metrics = fetch_metrics();
    while count(&shadow_counts(&metrics), "agree") == 0
        && waited.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
        metrics = fetch_metrics();
    }
    let counts = shadow_counts(&metrics);
    assert_eq!(count(&counts, "agree"), 1, "{metrics}");
    assert_eq!(count(&counts, "diverge"), 1, "{metrics}");
    let status = runtime
        .block_on(send(
            server.address,
            "GET",
            "/readyz",
            &[],
            Default::default(),
        ))
        .body;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let shadow = &status["tenants"]["t"]["routes"][0]["shadow"];
    assert!(
        shadow["rule"]
            .as_str()
            .unwrap()
            .ends_with("email_domain.wasm"),
        "{status}"
    );
    drop(server.stop());
}

#[tokio::test]
async fn a_shadow_that_loops_never_slows_or_fails_a_live_call() {
    const SHADOW_DEADLINE_MS: u64 = 1000;
    let extra = format!(
        "shadow_rule = \"{}\"\nshadow_settings = {{ behaviour = \"loop\" }}\n\
         limits = {{ deadline_ms = {SHADOW_DEADLINE_MS} }}",
        rule("misbehave").display()
    );
    let toml = tenant_toml("t", &rule("email_domain"), ALLOW_EXAMPLE_COM, &extra);
    let server = TestServer::with_config(&toml).await;
    let calls = 40;
    let mut slowest = Duration::ZERO;
    for _ in 0..calls {
        let started = Instant::now();
        let reply = server.hook("/hooks/t", SSR_OIE).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(reply.status, 204, "the live answer stands: {}", reply.body);
    }
    // Every live call answered without waiting for its shadow, which loops to the deadline.
    assert!(
        slowest < Duration::from_millis(SHADOW_DEADLINE_MS / 2),
        "a live call took {slowest:?}"
    );
    // At most a few shadows ran at once; the others were skipped, not queued.
    let started = Instant::now();
    let counts = loop {
        let counts = shadow_counts(&server.get("/metrics").await.body);
        if count(&counts, "failed") + count(&counts, "skipped") == calls {
            break counts;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "shadows unaccounted for: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(count(&counts, "skipped") > 0, "{counts:?}");
    assert!(
        count(&counts, "failed") <= calls / 2,
        "too many shadows ran: {counts:?}"
    );
    assert_eq!(count(&counts, "agree") + count(&counts, "diverge"), 0);
    // A failing shadow does not open the live route's breaker.
    let status = server.get("/readyz").await.json();
    assert_eq!(status["tenants"]["t"]["routes"][0]["circuit"], "closed");
}

#[test]
fn a_shadow_rule_for_another_hook_or_without_a_rule_is_refused_by_check() {
    let wrong_hook = tenant_toml(
        "t",
        &rule("email_domain"),
        ALLOW_EXAMPLE_COM,
        &format!("shadow_rule = \"{}\"", rule("token_claims").display()),
    );
    let orphan = tenant_toml(
        "t",
        &rule("email_domain"),
        ALLOW_EXAMPLE_COM,
        "shadow_settings = { a = 1 }",
    );
    for (toml, expected) in [
        (wrong_hook, "tenant `t`: routes[0].shadow_rule: "),
        (
            orphan,
            "routes[0].shadow_settings: `shadow_settings` needs a `shadow_rule`",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args([
                "check",
                "--config",
                &write_config(&toml).display().to_string(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "accepted: {expected}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}
