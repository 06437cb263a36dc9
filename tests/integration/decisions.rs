//! The decision log (`decision_log`): one JSON line per answered hook call through the real
//! server, with the ids, the rule's sha256, the decision and the failure kind, and never a
//! profile value.

use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{
    AUTH, SSR_OIE, TOKEN, TestServer, email_domain_tenant, hook_tenant_toml, misbehave_config, rule,
};
use crate::upstream::{Seen, Upstream};

/// The profile value the calls carry, which must not reach the log.
const MARKER: &str = "decision.log.marker";

fn with_email(email: &str) -> String {
    let mut body: Value = serde_json::from_str(SSR_OIE).unwrap();
    body["data"]["userProfile"]["email"] = email.into();
    body.to_string()
}

/// The log's lines once it holds `count` of them (the writer flushes in the background; the
/// server, on this test's runtime, keeps running meanwhile).
async fn lines(file: &std::path::Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect();
        if lines.len() >= count {
            assert!(
                !text.contains(MARKER),
                "a profile value reached the log: {text}"
            );
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} lines: {text}",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sha256(name: &str) -> String {
    let bytes = std::fs::read(rule(name)).unwrap();
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A fresh log file in a folder of its own.
fn log_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmhook-decisions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    let _ = std::fs::remove_file(&file);
    file
}

#[tokio::test]
async fn each_answer_is_one_line_with_ids_rule_version_and_outcome_but_no_profile_value() {
    let log = log_file("inline.jsonl");
    let toml = format!(
        "decision_log = \"{}\"\n{}{}",
        log.display(),
        email_domain_tenant("demo"),
        misbehave_config("loop", "limits = { deadline_ms = 50 }")
    );
    let server = TestServer::with_config(&toml).await;
    let calls = [
        ("/hooks/demo", with_email(&format!("{MARKER}@example.com"))),
        (
            "/hooks/demo",
            with_email(&format!("{MARKER}@elsewhere.org")),
        ),
        ("/hooks/t", with_email(&format!("{MARKER}@example.com"))),
        // No token route: answered by the hook type's default, without a rule.
        ("/hooks/demo", TOKEN.to_owned()),
    ];
    for (path, body) in &calls {
        let reply = server.hook(path, body).await;
        assert!(reply.status == 200 || reply.status == 204, "{}", reply.body);
    }
    let lines = lines(&log, calls.len()).await;
    assert_eq!(lines.len(), calls.len(), "{lines:?}");
    let (allowed, denied, failed, unrouted) = (&lines[0], &lines[1], &lines[2], &lines[3]);
    assert_eq!(allowed["tenant"], "demo");
    assert_eq!(allowed["event_id"], "04Dmt8BcT_aEgM");
    assert_eq!(allowed["hook"], "com.okta.user.pre-registration");
    assert_eq!(
        allowed["rule"], "email_domain",
        "the file stem, as in metrics"
    );
    assert_eq!(allowed["rule_sha256"], sha256("email_domain"));
    assert_eq!(allowed["failure"], Value::Null);
    assert!(allowed["fuel"].as_u64().unwrap() > 0, "{allowed}");
    assert!(allowed["duration_us"].as_u64().unwrap() > 0, "{allowed}");
    assert!(
        allowed["time"].as_str().unwrap().ends_with('Z'),
        "{allowed}"
    );
    assert_ne!(allowed["decision"], "deny");
    assert_eq!(denied["decision"], "deny", "{denied}");
    assert_eq!(denied["failure"], Value::Null);
    assert_eq!(failed["tenant"], "t");
    assert_eq!(failed["rule_sha256"], sha256("misbehave"));
    assert_eq!(failed["failure"], "deadline", "{failed}");
    assert_eq!(
        failed["decision"], "deny",
        "registration fails closed: {failed}"
    );
    assert_eq!(unrouted["hook"], "com.okta.oauth2.tokens.transform");
    assert_eq!(unrouted["failure"], "unrouted");
    assert_eq!(unrouted["rule"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn each_attempt_of_an_event_rule_is_a_line_too() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let upstream =
        Upstream::answering(
            move |_: &Seen| match counted.fetch_add(1, Ordering::SeqCst) {
                0 => (500, "down".into()),
                _ => (200, "ok".into()),
            },
        );
    let log = log_file("events.jsonl");
    let origin = upstream.origin();
    let queue = log.with_extension("redb");
    let _ = std::fs::remove_file(&queue);
    let toml = format!(
        "decision_log = \"{}\"\n[events]\nqueue = \"{}\"\nretry_after_ms = 20\n{}",
        log.display(),
        queue.display(),
        hook_tenant_toml(
            "demo",
            "user.lifecycle.*",
            &rule("event_forward"),
            &format!("{{ forward_url = \"{origin}/forward\" }}"),
            &format!("allowed_outbound_hosts = [\"{origin}\"]"),
        )
    );
    let server = TestServer::with_config(&toml).await;
    let delivery = serde_json::json!({
        "eventType": "com.okta.event_hook",
        "eventId": "d-logged",
        "data": {"events": [{
            "uuid": "e-logged",
            "eventType": "user.lifecycle.deactivate",
            "published": "2024-05-01T10:00:00.000Z",
            "target": [{"id": "00u1", "type": "User", "alternateId": format!("{MARKER}@example.com")}],
        }]},
    });
    let reply = server
        .request("POST", "/hooks/demo", &[AUTH], delivery.to_string())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines = lines(&log, 2).await;
    let (failed, handled) = (&lines[0], &lines[1]);
    for line in [failed, handled] {
        assert_eq!(line["hook"], "com.okta.event_hook");
        assert_eq!(line["event_id"], "e-logged");
        assert_eq!(line["route"], "user.lifecycle.*");
        assert_eq!(line["rule_sha256"], sha256("event_forward"));
    }
    assert_eq!(failed["decision"], "retry", "{failed}");
    assert_eq!(failed["failure"], "rule_error");
    assert_eq!(handled["decision"], "handled", "{handled}");
    assert_eq!(handled["failure"], Value::Null);
    server.stop().await;
}
