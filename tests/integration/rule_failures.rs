//! Rules that trap, loop, exhaust memory or answer garbage: each call gets the route's failure
//! policy quickly, the failure is counted, and the server keeps serving.

use std::time::{Duration, Instant};

use crate::common::{SSR_OIE, TestServer, assert_fail_closed, misbehave_config};

const DEADLINE_MS: u64 = 300;

/// Each misbehaviour and the failure kind it must be counted as.
const CASES: [(&str, &str); 9] = [
    ("panic", "trap"),
    ("abort", "trap"),
    ("recurse", "trap"),
    ("loop", "deadline"),
    ("allocate", "memory"),
    ("rule-error", "rule_error"),
    ("invalid-attribute", "invalid_output"),
    ("oversized", "invalid_output"),
    ("unknown-behaviour", "rule_error"),
];

#[tokio::test]
async fn every_failing_rule_is_answered_fail_closed_in_time_and_counted() {
    for (behaviour, kind) in CASES {
        let limits = format!("deadline_ms = {DEADLINE_MS}\nmax_memory_mb = 16");
        let server = TestServer::with_config(&misbehave_config(behaviour, &limits)).await;
        let started = Instant::now();
        let reply = server.hook("/hooks/t", SSR_OIE).await;
        let took = started.elapsed();
        assert_fail_closed(&reply);
        assert!(
            took < Duration::from_millis(DEADLINE_MS + 100),
            "{behaviour}: answered after {took:?}"
        );
        let metrics = server.get("/metrics").await.body;
        let counter = format!(
            r#"wasmhook_rule_failures_total{{tenant="t",rule="misbehave",kind="{kind}"}} 1"#
        );
        assert!(
            metrics.contains(&counter),
            "{behaviour}: no `{counter}` in\n{metrics}"
        );
        assert_eq!(
            server.get("/healthz").await.status,
            200,
            "{behaviour}: server unhealthy"
        );
    }
}

#[tokio::test]
async fn a_route_can_fail_open_instead() {
    let server =
        TestServer::with_config(&misbehave_config("panic", "on_failure = \"fail-open\"")).await;
    let reply = server.hook("/hooks/t", SSR_OIE).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

#[tokio::test]
async fn the_server_keeps_answering_good_calls_after_failures() {
    let config = misbehave_config("loop", &format!("deadline_ms = {DEADLINE_MS}"))
        + r#"
        [[tenants.t.routes]]
        event_type = "com.okta.user.pre-registration"
        request_type = "progressive.profile"
        rule = "RULE"
        settings = { behaviour = "allow" }
        "#;
    let config = config.replace(
        "RULE",
        &crate::common::rule("misbehave").display().to_string(),
    );
    let server = TestServer::with_config(&config).await;
    let pp = crate::common::PP_OIE;
    let (looping, good) = tokio::join!(server.hook("/hooks/t", SSR_OIE), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        (server.hook("/hooks/t", pp).await, started.elapsed())
    });
    assert_fail_closed(&looping);
    let (good, took) = good;
    assert_eq!(good.status, 204, "{}", good.body);
    assert!(
        took < Duration::from_millis(DEADLINE_MS / 2),
        "a looping rule delayed another call: {took:?}"
    );
}

#[tokio::test]
async fn a_log_flood_is_truncated_and_the_call_still_answered() {
    let server = TestServer::with_config(&misbehave_config("log-flood", "")).await;
    let reply = server.hook("/hooks/t", SSR_OIE).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}
