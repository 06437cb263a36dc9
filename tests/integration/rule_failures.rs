//! Rules that trap, loop, exhaust memory or answer garbage: each call gets the route's failure
//! policy quickly, the failure is counted, and the server keeps serving.

use std::time::{Duration, Instant};

use crate::common::{
    SSR_OIE, TestServer, assert_fail_closed, email_domain_tenant, misbehave_config,
};

const DEADLINE_MS: u64 = 300;

/// Each misbehaviour is answered fail-closed within its deadline, counted as its failure kind,
/// and leaves the server healthy: one test per misbehaviour, so that every failing case shows.
macro_rules! failing_rule_test {
    ($($name:ident: $behaviour:literal => $kind:literal,)*) => {$(
        #[tokio::test]
        async fn $name() {
            let limits = format!("limits = {{ deadline_ms = {DEADLINE_MS}, max_memory_mb = 16 }}");
            let server = TestServer::with_config(&misbehave_config($behaviour, &limits)).await;
            let started = Instant::now();
            let reply = server.hook("/hooks/t", SSR_OIE).await;
            let took = started.elapsed();
            assert_fail_closed(&reply);
            assert!(took < Duration::from_millis(DEADLINE_MS + 50), "answered after {took:?}");
            let metrics = server.get("/metrics").await.body;
            let counter = format!(
                r#"wasmhook_rule_failures_total{{tenant="t",rule="misbehave",kind="{}"}} 1"#,
                $kind
            );
            assert!(metrics.contains(&counter), "no `{counter}` in\n{metrics}");
            assert_eq!(server.get("/healthz").await.status, 200, "server unhealthy");
        }
    )*};
}

failing_rule_test! {
    a_panicking_rule_fails_closed: "panic" => "trap",
    an_aborting_rule_fails_closed: "abort" => "trap",
    a_rule_that_overflows_its_stack_fails_closed: "recurse" => "trap",
    a_looping_rule_fails_closed_at_its_deadline: "loop" => "deadline",
    a_rule_past_its_memory_cap_fails_closed: "allocate" => "memory",
    a_rule_that_cannot_decide_fails_closed: "rule-error" => "rule_error",
    a_decision_with_an_invalid_attribute_fails_closed: "invalid-attribute" => "invalid_output",
    an_oversized_answer_fails_closed: "oversized" => "oversize",
    a_rule_refusing_its_settings_fails_closed: "unknown-behaviour" => "rule_error",
}

#[tokio::test]
async fn a_route_can_fail_open_instead() {
    let server =
        TestServer::with_config(&misbehave_config("panic", "on_failure = \"fail-open\"")).await;
    let reply = server.hook("/hooks/t", SSR_OIE).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let metrics = server.get("/metrics").await.body;
    let counted = r#"wasmhook_rule_failures_total{tenant="t",rule="misbehave",kind="trap"} 1"#;
    assert!(
        metrics.contains(counted),
        "the failure was not counted: {metrics}"
    );
    assert!(metrics.contains(r#"wasmhook_hook_answers_total{tenant="t",answer="no-change"} 1"#));
}

#[tokio::test]
async fn the_server_keeps_answering_good_calls_after_failures() {
    let config = misbehave_config(
        "loop",
        &format!("limits = {{ deadline_ms = {DEADLINE_MS} }}"),
    ) + r#"
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
async fn a_fuel_budget_stops_a_busy_rule_deterministically() {
    let server =
        TestServer::with_config(&misbehave_config("loop", "limits = { fuel = 2000000 }")).await;
    let started = Instant::now();
    assert_fail_closed(&server.hook("/hooks/t", SSR_OIE).await);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "fuel, not the 1 s deadline, stopped it"
    );
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains(r#"kind="fuel"} 1"#), "{metrics}");
}

/// What a rule reaches for outside the sandbox fails inside the guest (reported in the debug
/// context), while clocks and random numbers work: one test per probe.
macro_rules! sandbox_probe_test {
    ($($name:ident: $behaviour:literal => $expected:literal,)*) => {$(
        #[tokio::test]
        async fn $name() {
            let server = TestServer::with_config(&misbehave_config($behaviour, "")).await;
            let reply = server.hook("/hooks/t", SSR_OIE).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let outcome = reply.json()["debugContext"][$behaviour].as_str().unwrap().to_owned();
            assert!(outcome.starts_with($expected), "{outcome}");
        }
    )*};
}

sandbox_probe_test! {
    files_are_unreachable: "read-file" => "error:",
    the_environment_is_empty: "read-env" => "error: environment variable not found",
    the_network_is_unreachable: "open-socket" => "error:",
    the_clock_works: "read-clock" => "ok:",
    random_numbers_work: "read-random" => "ok:",
    a_refused_allocation_can_be_handled: "huge-alloc-then-answer" => "ok: true",
}

#[tokio::test]
async fn nothing_a_rule_leaves_in_memory_reaches_the_next_request() {
    // Instance slots are reused (their dirty pages are reset in place), so check that globals
    // and heap contents written by one call are gone in the next.
    let server = TestServer::with_config(&misbehave_config("remember", "")).await;
    for call in 0..20 {
        let reply = server.hook("/hooks/t", SSR_OIE).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let found = reply.json()["debugContext"]["remember"].clone();
        assert_eq!(
            found, "ok: (1, 0)",
            "call {call}: (calls seen, stale heap bytes)"
        );
    }
    // The probe itself works: within one instance, the second look finds the first's traces.
    let server = TestServer::with_config(&misbehave_config("remember-twice", "")).await;
    let reply = server.hook("/hooks/t", SSR_OIE).await;
    let found = reply.json()["debugContext"]["remember-twice"].clone();
    let found = found.as_str().unwrap_or_default();
    let stale: usize = found
        .trim_start_matches("ok: (2, ")
        .trim_end_matches(')')
        .parse()
        .unwrap_or_else(|_| panic!("{found}"));
    assert!(stale > 60_000, "{found}");
}

/// A burst beyond the tenant's concurrency limit waits for its turn instead of being denied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_tenants_concurrency_limit_waits_and_is_answered() {
    let config = misbehave_config("allow", "").replace(
        "[tenants.t.auth]",
        "[tenants.t]\nmax_concurrent_evaluations = 2\n[tenants.t.auth]",
    );
    let server = std::sync::Arc::new(TestServer::with_config(&config).await);
    for reply in crate::common::burst(&server, "/hooks/t", SSR_OIE, 100).await {
        assert_eq!(reply.status, 204, "denied in a burst: {}", reply.body);
    }
    let metrics = server.get("/metrics").await.body;
    assert!(
        !metrics.contains("wasmhook_rule_failures_total"),
        "{metrics}"
    );
}

/// A call that cannot get the tenant's turn before its deadline is answered at its deadline,
/// by the failure policy, counted as `concurrency`.
#[tokio::test]
async fn a_call_that_waits_past_its_deadline_gets_the_failure_policy_in_time() {
    const SHORT_MS: u64 = 100;
    let rule = crate::common::rule("misbehave").display().to_string();
    let config = misbehave_config("loop", "limits = { deadline_ms = 600 }").replace(
        "[tenants.t.auth]",
        "[tenants.t]\nmax_concurrent_evaluations = 1\n[tenants.t.auth]",
    ) + &format!(
        "[[tenants.t.routes]]\nevent_type = \"com.okta.user.pre-registration\"\n\
         request_type = \"progressive.profile\"\nrule = \"{rule}\"\n\
         settings = {{ behaviour = \"allow\" }}\nlimits = {{ deadline_ms = {SHORT_MS} }}\n"
    );
    let server = TestServer::with_config(&config).await;
    let (busy, waited) = tokio::join!(server.hook("/hooks/t", SSR_OIE), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        (
            server.hook("/hooks/t", crate::common::PP_OIE).await,
            started.elapsed(),
        )
    });
    assert_fail_closed(&busy);
    let (waited, took) = waited;
    assert_fail_closed(&waited);
    assert!(
        took >= Duration::from_millis(SHORT_MS) && took < Duration::from_millis(SHORT_MS + 50),
        "answered after {took:?}, not at its {SHORT_MS} ms deadline"
    );
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains(r#"kind="concurrency"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"kind="deadline"} 1"#), "{metrics}");
}

/// A healthy tenant keeps getting correct answers while another tenant's rules loop, exhaust
/// memory and panic as fast as the server lets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_tenant_is_unaffected_by_a_hostile_neighbour() {
    let hostile = misbehave_config("loop", "limits = { deadline_ms = 200, max_memory_mb = 16 }");
    let config = hostile + &email_domain_tenant("healthy");
    let server = std::sync::Arc::new(TestServer::with_config(&config).await);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop) = (server.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answered = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_fail_closed(&server.hook("/hooks/t", SSR_OIE).await);
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..100 {
        let started = Instant::now();
        let reply = server.hook("/hooks/healthy", SSR_OIE).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(reply.status, 204, "{}", reply.body);
        let denied = server
            .hook(
                "/hooks/healthy",
                &SSR_OIE.replace("@example.com", "@example.org"),
            )
            .await;
        assert!(
            denied.body.contains("INVALID_EMAIL_DOMAIN"),
            "{}",
            denied.body
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for attacker in attackers {
        assert!(attacker.await.unwrap() > 0);
    }
    assert!(
        slowest < Duration::from_millis(150),
        "slowest healthy call took {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_at_its_concurrency_limit_does_not_slow_another() {
    let saturated = misbehave_config("loop", "limits = { deadline_ms = 400 }").replace(
        "[tenants.t.auth]",
        "[tenants.t]\nmax_concurrent_evaluations = 2\n[tenants.t.auth]",
    );
    let config = saturated + &email_domain_tenant("calm");
    let server = std::sync::Arc::new(TestServer::with_config(&config).await);
    let flood: Vec<_> = (0..6)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.hook("/hooks/t", SSR_OIE).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..20 {
        let started = Instant::now();
        let reply = server.hook("/hooks/calm", SSR_OIE).await;
        assert_eq!(reply.status, 204, "{}", reply.body);
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "calm tenant waited {:?}",
            started.elapsed()
        );
    }
    for call in flood {
        assert_fail_closed(&call.await.unwrap());
    }
    // Two ran until their deadline; the others waited for a turn until theirs.
    let metrics = server.get("/metrics").await.body;
    let failures: u64 = metrics
        .lines()
        .filter(|line| line.starts_with(r#"wasmhook_rule_failures_total{tenant="t""#))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(failures, 6, "{metrics}");
}
