//! Event hooks through the real server: Okta's one-time verification `GET`, and deliveries
//! (`POST` of `com.okta.event_hook`) acknowledged once queued on disk, each event then run
//! through the `event-forward` rule to a local endpoint (the stand-in for the system a team
//! syncs), retried when it fails, kept as a dead letter after the last attempt, handled once
//! however often it is delivered, and never lost to a `kill -9`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{
    AUTH, ServeProcess, TestServer, hook_tenant_toml, rule, wasmhook, write_config,
};
use crate::upstream::{Seen, Upstream};

const CHALLENGE: &str = "x-okta-verification-challenge";

async fn verify(server: &TestServer, headers: &[(&str, &str)]) -> crate::common::Reply {
    server.request("GET", "/hooks/demo", headers, "").await
}

#[tokio::test]
async fn the_challenge_is_echoed_for_the_right_secret_only() {
    let server = TestServer::quickstart().await;
    let reply = verify(&server, &[AUTH, (CHALLENGE, "r3m6k0sc3t1e2n")]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), Some("application/json"));
    assert_eq!(reply.body, r#"{"verification":"r3m6k0sc3t1e2n"}"#);
    let wrong = ("authorization", "Basic d3Jvbmc6c2VjcmV0");
    for headers in [vec![(CHALLENGE, "abc")], vec![wrong, (CHALLENGE, "abc")]] {
        let reply = verify(&server, &headers).await;
        assert_eq!(reply.status, 401, "{headers:?}: {}", reply.body);
        assert!(!reply.body.contains("abc"), "{}", reply.body);
    }
    let unknown = server
        .request("GET", "/hooks/nobody", &[AUTH, (CHALLENGE, "abc")], "")
        .await;
    assert_eq!(unknown.status, 404);
    // Without a challenge, a GET is still the wrong method.
    let plain = verify(&server, &[AUTH]).await;
    assert_eq!(plain.status, 405);
}

#[tokio::test]
async fn odd_challenges_are_echoed_as_json_and_long_ones_refused() {
    let server = TestServer::quickstart().await;
    for odd in [
        r#"a"b\c"#,
        "</script>&amp;",
        "  spaced  out ",
        "{\"verification\":1}",
    ] {
        let reply = verify(&server, &[AUTH, (CHALLENGE, odd)]).await;
        assert_eq!(reply.status, 200, "{odd}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        // hyper trims the header value's surrounding spaces, as HTTP says.
        assert_eq!(body["verification"], odd.trim(), "{}", reply.body);
        assert_eq!(body.as_object().unwrap().len(), 1);
    }
    let longest = "v".repeat(1024);
    let reply = verify(&server, &[AUTH, (CHALLENGE, &longest)]).await;
    assert_eq!(reply.status, 200);
    let too_long = "v".repeat(1025);
    let reply = verify(&server, &[AUTH, (CHALLENGE, &too_long)]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(!reply.body.contains(&too_long));
    let empty = verify(&server, &[AUTH, (CHALLENGE, "")]).await;
    assert_eq!(empty.status, 400, "{}", empty.body);
}

/// A queue file of its own for each server of the run.
fn queue_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmhook-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.redb"));
    let _ = std::fs::remove_file(&file);
    file
}

/// A config whose tenant `demo` forwards `event_type` events through `forward` (a rule) to
/// `upstream`, with `[events]` keys `events` and a queue file named `name`.
fn forwarding_config(
    name: &str,
    forward: &Path,
    upstream: &Upstream,
    event_type: &str,
    events: &str,
) -> String {
    let origin = upstream.origin();
    let settings = format!("{{ forward_url = \"{origin}/forward\" }}");
    let grant = format!("allowed_outbound_hosts = [\"{origin}\"]");
    format!(
        "[events]\nqueue = \"{}\"\n{events}\n{}",
        queue_file(name).display(),
        hook_tenant_toml("demo", event_type, forward, &settings, &grant)
    )
}

/// A delivery with id `event_id` of one event per `(uuid, eventType)`, each about one user.
fn delivery(event_id: &str, events: &[(&str, &str)]) -> String {
    let events: Vec<Value> = events
        .iter()
        .map(|(uuid, event_type)| {
            json!({
                "uuid": uuid,
                "published": "2024-05-01T10:00:00.000Z",
                "eventType": event_type,
                "version": "0",
                "displayMessage": "Deactivate Okta user",
                "severity": "INFO",
                "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
                "outcome": {"result": "SUCCESS", "reason": null},
                "target": [{"id": format!("00u{uuid}"), "type": "User", "alternateId": "jane.doe@example.com", "displayName": "Jane Doe"}],
            })
        })
        .collect();
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/who1",
        "eventId": event_id,
        "eventTime": "2024-05-01T10:00:01.000Z",
        "contentType": "application/json",
        "data": {"events": events},
    })
    .to_string()
}

/// The uuids the upstream got, in order.
fn forwarded(upstream: &Upstream) -> Vec<String> {
    upstream
        .seen()
        .iter()
        .map(|seen| {
            serde_json::from_str::<Value>(&seen.body).unwrap()["uuid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Waits (up to `within`) until `done` holds.
async fn until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of the metric line starting with `series` (0 when absent).
async fn metric(server: &TestServer, series: &str) -> f64 {
    let metrics = server.get("/metrics").await.body;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The value of `series` once it is `expected`, or its last value after 5 s.
async fn metric_reaching(server: &TestServer, series: &str, expected: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = metric(server, series).await;
        if value == expected || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_delivery_is_acknowledged_once_queued_and_each_routed_event_reaches_its_rule() {
    let upstream = Upstream::start();
    let toml = forwarding_config(
        "routed",
        &rule("event_forward"),
        &upstream,
        "user.lifecycle.*",
        "",
    );
    let server = TestServer::with_config(&toml).await;
    let body = delivery(
        "d-routed",
        &[
            ("u1", "user.lifecycle.deactivate"),
            ("u2", "user.session.start"),
            ("u3", "user.lifecycle.create"),
        ],
    );
    let reply = server.hook("/hooks/demo", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, "");
    until(Duration::from_secs(10), "two forwarded events", || {
        upstream.seen().len() >= 2
    })
    .await;
    let mut uuids = forwarded(&upstream);
    uuids.sort();
    assert_eq!(uuids, ["u1", "u3"], "user.session.start has no route");
    let sent: Value = serde_json::from_str(&upstream.seen()[0].body).unwrap();
    assert_eq!(sent["attempt"], 1);
    assert!(
        sent["users"][0]["login"]
            .as_str()
            .unwrap()
            .ends_with("@example.com")
    );
    let tenant = "tenant=\"demo\"";
    let handled = format!("wasmhook_events_total{{{tenant},outcome=\"handled\"}}");
    assert_eq!(metric_reaching(&server, &handled, 2.0).await, 2.0);
    assert_eq!(
        metric(
            &server,
            &format!("wasmhook_events_total{{{tenant},outcome=\"unrouted\"}}")
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(&server, &format!("wasmhook_event_queue_events{{{tenant}}}")).await,
        0.0
    );
    server.stop().await;
}

#[tokio::test]
async fn the_example_rule_forwards_alike_in_rust_python_and_javascript() {
    let upstream = Upstream::start();
    let origin = upstream.origin();
    let target = crate::common::rules_target();
    let languages = [
        ("rust", rule("event_forward")),
        ("python", target.join("python/event_forward.wasm")),
        ("javascript", target.join("javascript/event_forward.wasm")),
    ];
    let mut toml = format!(
        "[events]\nqueue = \"{}\"\n",
        queue_file("languages").display()
    );
    for (language, rule) in &languages {
        let settings = format!("{{ forward_url = \"{origin}/forward/{language}\" }}");
        let grant = format!("allowed_outbound_hosts = [\"{origin}\"]");
        toml += &hook_tenant_toml(language, "user.lifecycle.*", rule, &settings, &grant);
    }
    let server = TestServer::with_config(&toml).await;
    let body = delivery("d-languages", &[("l1", "user.lifecycle.deactivate")]);
    for (language, _) in &languages {
        let reply = server
            .request("POST", &format!("/hooks/{language}"), &[AUTH], body.clone())
            .await;
        assert_eq!(reply.status, 200, "{language}: {}", reply.body);
    }
    until(
        Duration::from_secs(20),
        "one event forwarded per language",
        || upstream.seen().len() >= languages.len(),
    )
    .await;
    let forwarded: HashMap<String, Value> = upstream
        .seen()
        .into_iter()
        .map(|seen| (seen.path, serde_json::from_str(&seen.body).unwrap()))
        .collect();
    let rust = &forwarded["/forward/rust"];
    assert_eq!(rust["uuid"], "l1");
    assert_eq!(rust["users"][0]["login"], "jane.doe@example.com");
    for language in ["python", "javascript"] {
        assert_eq!(
            &forwarded[&format!("/forward/{language}")],
            rust,
            "{language}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_delivery_sent_twice_and_an_event_delivered_again_are_handled_once() {
    let upstream = Upstream::start();
    let toml = forwarding_config("dedup", &rule("event_forward"), &upstream, "*", "");
    let server = TestServer::with_config(&toml).await;
    let first = delivery(
        "d-1",
        &[
            ("a", "user.lifecycle.deactivate"),
            ("b", "user.lifecycle.deactivate"),
        ],
    );
    for _ in 0..2 {
        let reply = server.hook("/hooks/demo", &first).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    // Another delivery repeating `b`, as Okta may when it batches again.
    let second = delivery(
        "d-2",
        &[
            ("b", "user.lifecycle.deactivate"),
            ("c", "user.lifecycle.deactivate"),
        ],
    );
    assert_eq!(server.hook("/hooks/demo", &second).await.status, 200);
    until(Duration::from_secs(10), "three forwarded events", || {
        upstream.seen().len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut uuids = forwarded(&upstream);
    uuids.sort();
    assert_eq!(uuids, ["a", "b", "c"], "each event once");
    let duplicates = metric(
        &server,
        "wasmhook_events_total{tenant=\"demo\",outcome=\"duplicate\"}",
    )
    .await;
    assert_eq!(
        duplicates, 3.0,
        "two of the repeated delivery, one of the second"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_rule_failing_twice_then_succeeding_handles_the_event_on_its_third_attempt() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let upstream =
        Upstream::answering(
            move |_: &Seen| match counted.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => (500, "down".into()),
                _ => (200, "ok".into()),
            },
        );
    let toml = forwarding_config(
        "retry",
        &rule("event_forward"),
        &upstream,
        "user.lifecycle.deactivate",
        "retry_after_ms = 50",
    );
    let server = TestServer::with_config(&toml).await;
    let reply = server
        .hook(
            "/hooks/demo",
            &delivery("d-retry", &[("r1", "user.lifecycle.deactivate")]),
        )
        .await;
    assert_eq!(reply.status, 200);
    until(Duration::from_secs(10), "three attempts", || {
        upstream.seen().len() >= 3
    })
    .await;
    let attempts: Vec<Value> = upstream
        .seen()
        .iter()
        .map(|seen| serde_json::from_str::<Value>(&seen.body).unwrap()["attempt"].clone())
        .collect();
    assert_eq!(attempts, [json!(1), json!(2), json!(3)]);
    let handled = "wasmhook_events_total{tenant=\"demo\",outcome=\"handled\"}";
    assert_eq!(metric_reaching(&server, handled, 1.0).await, 1.0);
    assert_eq!(
        metric(
            &server,
            "wasmhook_events_total{tenant=\"demo\",outcome=\"retried\"}"
        )
        .await,
        2.0
    );
    assert_eq!(
        metric(&server, "wasmhook_event_dead_letters{tenant=\"demo\"}").await,
        0.0
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(upstream.seen().len(), 3, "no attempt after the success");
    server.stop().await;
}

#[tokio::test]
async fn an_event_failing_its_last_attempt_is_kept_as_a_dead_letter_without_its_content() {
    let upstream = Upstream::answering(|_: &Seen| (503, "unavailable".into()));
    let toml = forwarding_config(
        "dead",
        &rule("event_forward"),
        &upstream,
        "user.lifecycle.deactivate",
        "max_attempts = 3\nretry_after_ms = 20",
    );
    let server = TestServer::with_config(&toml).await;
    let reply = server
        .hook(
            "/hooks/demo",
            &delivery("d-dead", &[("dead-1", "user.lifecycle.deactivate")]),
        )
        .await;
    assert_eq!(reply.status, 200);
    let dead = "wasmhook_event_dead_letters{tenant=\"demo\"}";
    assert_eq!(metric_reaching(&server, dead, 1.0).await, 1.0);
    assert_eq!(upstream.seen().len(), 3, "exactly max_attempts attempts");
    let status = server.get("/readyz").await.json();
    let letters = &status["events"]["dead_letters"];
    assert_eq!(letters[0]["uuid"], "dead-1", "{status}");
    assert_eq!(letters[0]["attempts"], 3);
    assert_eq!(letters[0]["failure"], "rule_error");
    assert_eq!(status["events"]["tenants"]["demo"]["dead_letters"], 1);
    assert_eq!(status["events"]["tenants"]["demo"]["queued"], 0);
    let text = status.to_string();
    assert!(
        !text.contains("jane.doe@example.com") && !text.contains("Jane Doe"),
        "no event content in the status: {text}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(upstream.seen().len(), 3, "a dead letter is not tried again");
    server.stop().await;
}

#[tokio::test]
async fn deliveries_that_cannot_be_queued_are_refused_so_that_okta_retries_or_logs_them() {
    // A rule that can reach nothing (no grant): every event fails and waits a minute to retry,
    // so the tenant's queue stays full.
    let settings = "{ forward_url = \"http://127.0.0.1:9/forward\" }";
    let toml = format!(
        "[events]\nqueue = \"{}\"\nmax_queued_per_tenant = 2\nretry_after_ms = 60000\n{}",
        queue_file("full").display(),
        hook_tenant_toml("demo", "*", &rule("event_forward"), settings, "")
    );
    let server = TestServer::with_config(&toml).await;
    let full = server
        .hook(
            "/hooks/demo",
            &delivery("d-a", &[("f1", "a.b"), ("f2", "a.b")]),
        )
        .await;
    assert_eq!(full.status, 200);
    let refused = server
        .hook("/hooks/demo", &delivery("d-b", &[("f3", "a.b")]))
        .await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.json()["error"]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("try again")
    );
    // Malformed deliveries: 400, naming what is wrong.
    for (body, expected) in [
        (
            r#"{"eventType":"com.okta.event_hook","data":{}}"#,
            "`data.events` is missing",
        ),
        (
            r#"{"eventType":"com.okta.event_hook","data":{"events":[{"eventType":"a.b"}]}}"#,
            "events[0].uuid",
        ),
        (
            r#"{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"x","eventType":"a\u0000b"}]}}"#,
            "events[0].eventType",
        ),
    ] {
        let reply = server.hook("/hooks/demo", body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(
            reply.json()["error"]["errorSummary"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{}",
            reply.body
        );
    }
    // Without the secret, nothing is queued.
    let wrong = server
        .request(
            "POST",
            "/hooks/demo",
            &[("authorization", "Basic d3Jvbmc=")],
            delivery("d-c", &[("f4", "a.b")]),
        )
        .await;
    assert_eq!(wrong.status, 401);
    let status = server.get("/readyz").await.json();
    assert_eq!(status["events"]["tenants"]["demo"]["queued"], 2, "{status}");
    server.stop().await;
}

#[test]
fn event_routes_are_refused_where_they_cannot_work() {
    let forward = rule("event_forward");
    let settings = "{ forward_url = \"https://example.com/x\" }";
    for (extra, expected) in [
        (
            "on_failure = \"fail-closed\"",
            "routes[0].on_failure: an event route answers Okta before its rule runs",
        ),
        ("request_type = \"x\"", "routes[0].request_type"),
    ] {
        let toml = hook_tenant_toml("demo", "user.lifecycle.*", &forward, settings, extra);
        let output = wasmhook(&[
            "check",
            "--config",
            &write_config(&toml).display().to_string(),
        ]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    // A registration rule on an event route, and an event rule on an inline route.
    let toml = hook_tenant_toml(
        "demo",
        "user.lifecycle.create",
        &rule("email_domain"),
        "{}",
        "",
    );
    let output = wasmhook(&[
        "check",
        "--config",
        &write_config(&toml).display().to_string(),
    ]);
    assert!(!output.status.success());
    let toml = hook_tenant_toml(
        "demo",
        "com.okta.user.pre-registration",
        &forward,
        settings,
        "",
    );
    let output = wasmhook(&[
        "check",
        "--config",
        &write_config(&toml).display().to_string(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("event"), "{stderr}");
    // Okta sends event hooks no OAuth token.
    let oauth = format!(
        "[tenants.demo.auth]\ntype = \"oauth2-bearer\"\nissuer = \"https://example.okta.com/oauth2/default\"\n\
         audience = \"api://default\"\njwks_url = \"https://example.okta.com/oauth2/default/v1/keys\"\n\
         [[tenants.demo.routes]]\nevent_type = \"user.lifecycle.*\"\nrule = \"{}\"\nsettings = {settings}\n",
        forward.display()
    );
    let output = wasmhook(&[
        "check",
        "--config",
        &write_config(&oauth).display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("event hooks authenticate with a header secret only"),
        "{stderr}"
    );
}

#[test]
fn eval_runs_an_event_rule_on_each_event_of_a_delivery() {
    let upstream = Upstream::start();
    let origin = upstream.origin();
    let settings = format!(r#"{{"forward_url":"{origin}/forward"}}"#);
    let forward = rule("event_forward").display().to_string();
    let request = crate::common::fixture("event-hook-delivery.json");
    let args = [
        "eval",
        "--rule",
        &forward,
        "--request",
        &request,
        "--settings",
        &settings,
    ];
    let output = wasmhook(&[&args[..], &["--allow-outbound-host", &origin]].concat());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "the server answers a delivery with an empty 200"
    );
    assert!(
        stderr.contains("event f1d0b993-cc19-11ed-a688-db22c99ef6c4 (user.session.start): handled"),
        "{stderr}"
    );
    assert_eq!(
        forwarded(&upstream),
        ["f1d0b993-cc19-11ed-a688-db22c99ef6c4"]
    );
    // Without the grant the rule cannot forward, and eval says the server would retry.
    let output = wasmhook(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("failed (rule_error)") && stderr.contains("try it again later"),
        "{stderr}"
    );
}

#[test]
fn eval_with_a_config_runs_the_route_only_on_the_events_it_matches() {
    let upstream = Upstream::start();
    let toml = forwarding_config(
        "eval-config",
        &rule("event_forward"),
        &upstream,
        "user.lifecycle.*",
        "",
    );
    let config = write_config(&toml);
    let request =
        std::env::temp_dir().join(format!("wasmhook-eval-mixed-{}.json", std::process::id()));
    let events = [
        ("m1", "user.lifecycle.deactivate"),
        ("m2", "user.session.start"),
    ];
    std::fs::write(&request, delivery("d-mixed", &events)).unwrap();
    let output = wasmhook(&[
        "eval",
        "--config",
        &config.display().to_string(),
        "--tenant",
        "demo",
        "--request",
        &request.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("event m1 (user.lifecycle.deactivate): handled"),
        "{stderr}"
    );
    assert!(
        stderr.contains("event m2 (user.session.start): not for this route; skipped"),
        "{stderr}"
    );
    assert_eq!(forwarded(&upstream), ["m1"]);
}

/// The issue's crash test: 1,000 events acknowledged, the server killed with SIGKILL at once,
/// restarted on the same queue: every event reaches the endpoint at least once.
#[test]
fn no_acknowledged_event_is_lost_to_a_kill_9() {
    const DELIVERIES: usize = 50;
    const PER_DELIVERY: usize = 20;
    // A slow endpoint (the upstream answers one request at a time), so that most events are
    // still queued when the server dies.
    let upstream = Upstream::answering(|_: &Seen| {
        std::thread::sleep(Duration::from_millis(2));
        (200, "ok".into())
    });
    let toml = forwarding_config(
        "kill",
        &rule("event_forward"),
        &upstream,
        "user.lifecycle.*",
        "concurrency = 2",
    );
    let config = write_config(&toml);
    let server = ServeProcess::start(&config, "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = server.address;
    let acknowledged: usize = runtime.block_on(async {
        let sends = (0..DELIVERIES).map(|d| {
            let events: Vec<(String, &str)> = (0..PER_DELIVERY)
                .map(|e| (format!("k-{d}-{e}"), "user.lifecycle.deactivate"))
                .collect();
            let events: Vec<(&str, &str)> = events.iter().map(|(u, t)| (u.as_str(), *t)).collect();
            let body = delivery(&format!("kill-{d}"), &events);
            async move {
                let reply =
                    crate::common::send(address, "POST", "/hooks/demo", &[AUTH], body.into()).await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                PER_DELIVERY
            }
        });
        futures_join_all(sends).await.into_iter().sum()
    });
    assert_eq!(acknowledged, DELIVERIES * PER_DELIVERY);
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let before_restart = upstream.seen().len();

    let restarted = ServeProcess::start(&config, "info");
    let deadline = Instant::now() + Duration::from_secs(120);
    let counts = loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for uuid in forwarded(&upstream) {
            *counts.entry(uuid).or_default() += 1;
        }
        if counts.len() == acknowledged || Instant::now() > deadline {
            break counts;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let total: usize = counts.values().sum();
    eprintln!(
        "kill -9 after {acknowledged} acknowledged events: {before_restart} forwarded before the kill, \
         {} distinct after the restart, {} duplicates (events in flight at the kill)",
        counts.len(),
        total - counts.len()
    );
    assert_eq!(
        counts.len(),
        acknowledged,
        "every acknowledged event reaches the endpoint"
    );
    assert!(
        before_restart < acknowledged,
        "the kill came while events were queued"
    );
    assert!(
        total - counts.len() <= 4,
        "duplicates only for events in flight (concurrency 2)"
    );
    drop(restarted);
}

/// Awaits every future, concurrently.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(task.await.unwrap());
    }
    outputs
}
