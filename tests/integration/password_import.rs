//! The password import hook end to end: the example rule asks a legacy store (a local stand-in,
//! `upstream.rs`) whether the password is right, through the server and through `eval`; the
//! answer is `VERIFIED`, `UNVERIFIED` or, when the store cannot say, `204` (Okta's default,
//! unverified); and the plaintext password never reaches the log, the answer or an error, however
//! the rule tries (`password-leaky`).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::common::{
    Reply, ServeProcess, hook_tenant_toml, rule, rules_target, text, wasmhook, write_config,
};
use crate::upstream::Upstream;

const EVENT_TYPE: &str = "com.okta.user.credential.password.import";
const FIXTURE: &str = include_str!("../fixtures/okta/password-import.json");
const USER: &str = "isaac.brock@example.com";
/// A password no other text in a log or an answer could contain by chance, with the characters
/// JSON escapes.
const PASSWORD: &str = "Tr0ub4dor&3\"\\pass";

/// The documented request with `username` and `password`.
fn request(username: &str, password: &str) -> String {
    let mut body: Value = serde_json::from_str(FIXTURE).unwrap();
    body["data"]["context"]["credential"] = json!({"username": username, "password": password});
    body.to_string()
}

/// The form a JSON text writes `PASSWORD` in.
fn escaped(password: &str) -> String {
    let quoted = serde_json::to_string(password).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

fn assert_never_shows_the_password(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD) && !text.contains(&escaped(PASSWORD)),
        "{what} shows the password: {text}"
    );
}

/// The legacy store: `200` for `USER` with `PASSWORD`, `401` for a wrong password, `404` for
/// anyone else, and `503` for the user `down@example.com`.
fn legacy_store() -> Upstream {
    Upstream::answering(|seen| {
        let Ok(body) = serde_json::from_str::<Value>(&seen.body) else {
            return (400, "not JSON".into());
        };
        match (body["username"].as_str(), body["password"].as_str()) {
            (Some(USER), Some(PASSWORD)) => (200, "{}".into()),
            (Some(USER), _) => (401, "{}".into()),
            (Some("down@example.com"), _) => (503, "{}".into()),
            _ => (404, "{}".into()),
        }
    })
}

/// The example rule in every language it is written in.
fn example_rules() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("rust", rule("password_legacy_store")),
        (
            "python",
            rules_target().join("python/password_legacy_store.wasm"),
        ),
        (
            "javascript",
            rules_target().join("javascript/password_legacy_store.wasm"),
        ),
    ]
}

fn serve(rule: &std::path::Path, settings: &str, extra: &str) -> ServeProcess {
    let config = write_config(&hook_tenant_toml("t", EVENT_TYPE, rule, settings, extra));
    ServeProcess::start(&config, "info")
}

/// What the answer says: `VERIFIED`, `UNVERIFIED`, or `204`.
fn verdict(status: u16, body: &str) -> String {
    if status == 204 {
        return "204".into();
    }
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert!(body.get("error").is_none(), "never an error: {body}");
    assert_eq!(body["commands"][0]["type"], "com.okta.action.update");
    body["commands"][0]["value"]["credential"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// (username, password, what the answer says).
const TABLE: &[(&str, &str, &str)] = &[
    (USER, PASSWORD, "VERIFIED"),
    (USER, "wrong", "UNVERIFIED"),
    ("someone.else@example.com", PASSWORD, "UNVERIFIED"),
    // The store cannot say: the call fails, and the password stays unverified.
    ("down@example.com", PASSWORD, "204"),
];

#[test]
fn the_legacy_store_decides_through_the_server() {
    let store = legacy_store();
    let settings = format!("{{ verify_url = \"{}/v1/verify\" }}", store.origin());
    let grant = format!("allowed_outbound_hosts = [\"{}\"]", store.origin());
    for (language, rule) in example_rules() {
        let server = serve(&rule, &settings, &grant);
        for (username, password, expected) in TABLE {
            let reply = server.call("t", &request(username, password));
            let got = verdict(reply.status, &reply.body);
            assert_eq!(&got, expected, "{language}: {username} / {password}");
        }
        let log = server.stop();
        assert!(log.contains("the legacy store answered 503"), "{log}");
        assert_never_shows_the_password(language, &log);
    }
    let sent = store.seen();
    assert_eq!(sent.len(), TABLE.len() * example_rules().len());
    assert_eq!(sent[0].path, "/v1/verify");
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
}

#[test]
fn the_legacy_store_decides_through_eval() {
    let store = legacy_store();
    let settings = json!({"verify_url": format!("{}/v1/verify", store.origin())}).to_string();
    let dir = std::env::temp_dir().join(format!("wasmhook-password-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (language, rule) in example_rules() {
        for (i, (username, password, expected)) in TABLE.iter().enumerate() {
            let file = dir.join(format!("{language}-{i}.json"));
            std::fs::write(&file, request(username, password)).unwrap();
            let output = wasmhook(&[
                "eval",
                "--rule",
                &rule.display().to_string(),
                "--request",
                &file.display().to_string(),
                "--settings",
                &settings,
                "--allow-outbound-host",
                &store.origin(),
            ]);
            let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
            // A rule that could not decide fails `eval`, which says what the server would answer.
            let got = if stderr.contains("(fail-closed) that is 204 No Content") {
                assert!(!output.status.success());
                "204".to_owned()
            } else {
                assert!(output.status.success(), "{stderr}");
                verdict(200, &stdout)
            };
            assert_eq!(&got, expected, "{language}: {username}: {stderr}");
            assert_never_shows_the_password("eval", &text(&output.stderr));
        }
    }
}

#[test]
fn without_a_grant_the_store_is_out_of_reach_and_the_password_unverified() {
    let store = legacy_store();
    let settings = format!("{{ verify_url = \"{}/v1/verify\" }}", store.origin());
    for (language, rule) in example_rules() {
        let server = serve(&rule, &settings, "");
        let reply = server.call("t", &request(USER, PASSWORD));
        assert_eq!(reply.status, 204, "{language}: {}", reply.body);
        // Every language's client tells the rule what to change.
        let line = server.wait_for_line(|l| l.contains("rule failed"));
        assert!(
            line.contains("the route does not grant this origin (allowed_outbound_hosts)"),
            "{language}: {line}"
        );
    }
    assert!(store.seen().is_empty());
}

#[test]
fn a_password_import_route_may_not_fail_open() {
    let toml = hook_tenant_toml(
        "t",
        EVENT_TYPE,
        &rule("password_legacy_store"),
        "{ verify_url = \"https://legacy.example.com/v1/verify\" }",
        "on_failure = \"fail-open\"",
    );
    let output = wasmhook(&[
        "check",
        "--config",
        &write_config(&toml).display().to_string(),
    ]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("fails closed only: failing open would verify any password"),
        "{stderr}"
    );
}

/// Runs `password-leaky` with `leak` and returns the reply and the whole log.
fn leak(how: &str) -> (Reply, String) {
    let settings = format!("{{ leak = \"{how}\" }}");
    let server = serve(&rule("password_leaky"), &settings, "");
    let reply = server.call("t", &request(USER, PASSWORD));
    // The call's own lines are written before its answer; stopping flushes the rest.
    (reply, server.stop())
}

#[test]
fn a_logged_password_is_masked() {
    let (reply, log) = leak("log");
    assert_eq!(verdict(reply.status, &reply.body), "UNVERIFIED");
    assert_never_shows_the_password("the log", &log);
    assert!(log.contains("the password is [redacted]"), "{log}");
}

#[test]
fn a_logged_raw_body_has_the_password_masked() {
    let (_, log) = leak("raw");
    assert_never_shows_the_password("the log", &log);
    assert!(log.contains("[redacted]"), "{log}");
    assert!(log.contains(USER), "the rest of the line stays: {log}");
}

#[test]
fn a_password_in_a_panic_message_is_masked() {
    let (reply, log) = leak("panic");
    assert_eq!(reply.status, 204);
    assert_never_shows_the_password("the log", &log);
    assert!(log.contains("the password is [redacted]"), "{log}");
}

#[test]
fn a_password_in_the_rules_error_is_masked_and_the_answer_unverified() {
    let (reply, log) = leak("err");
    assert_eq!(reply.status, 204);
    assert_never_shows_the_password("the log", &log);
    assert!(log.contains("could not check password [redacted]"), "{log}");
}

#[test]
fn a_password_in_the_debug_context_is_not_sent() {
    let (reply, log) = leak("debug-context");
    assert_eq!(verdict(reply.status, &reply.body), "VERIFIED");
    assert_never_shows_the_password("the answer", &reply.body);
    assert!(!reply.body.contains("debugContext"), "{}", reply.body);
    assert!(log.contains("answer repeats a secret"), "{log}");
    assert_never_shows_the_password("the log", &log);
}
