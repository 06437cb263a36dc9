//! The token and SAML assertion hooks end to end: each example rule, written in Rust, Python and
//! JavaScript, held to one decision table per hook (`tests/fixtures/decisions/`) through the
//! server and through `wasmhook eval`; and what the server refuses in a decision, driven through
//! the server by the echo test rules.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{AUTH, TestServer, repo_root, rules_target, write_config};

const LANGUAGES: [&str; 3] = ["rust", "python", "javascript"];

/// Where `language`'s build of the rule `name` (file stem) lands under `rules/target`.
fn rule_of(language: &str, name: &str) -> PathBuf {
    let folder = match language {
        "rust" => "wasm32-wasip2/release",
        other => other,
    };
    rules_target().join(folder).join(format!("{name}.wasm"))
}

struct Table {
    event_type: String,
    cases: Vec<Case>,
}

struct Case {
    name: String,
    body: String,
    settings: Value,
    answer: Expected,
}

#[derive(Debug, PartialEq)]
enum Expected {
    /// `204`.
    NoChange,
    /// `200` with exactly this body.
    Body(String),
    /// No decision: the route's failure policy answers.
    Failure,
}

fn table(name: &str) -> Table {
    let file = repo_root().join(format!("tests/fixtures/decisions/{name}.json"));
    let table: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let cases = table["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let fixture = repo_root()
                .join("tests/fixtures/okta")
                .join(case["fixture"].as_str().unwrap());
            let mut body: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
            for member in case["drop"].as_array().into_iter().flatten() {
                body["data"]
                    .as_object_mut()
                    .unwrap()
                    .remove(member.as_str().unwrap());
            }
            Case {
                name: case["name"].as_str().unwrap().into(),
                body: body.to_string(),
                settings: case["settings"].clone(),
                answer: match &case["answer"] {
                    Value::Null => Expected::NoChange,
                    Value::String(failure) if failure == "failure" => Expected::Failure,
                    body => Expected::Body(body.to_string()),
                },
            }
        })
        .collect();
    Table {
        event_type: table["hook"].as_str().unwrap().into(),
        cases,
    }
}

/// A tenant `id` whose calls of `event_type` run `rule` with `settings`, failing closed so that
/// a refused decision is told apart from "no change".
fn tenant(id: &str, event_type: &str, rule: &Path, settings: &Value) -> String {
    format!(
        "[tenants.{id}.auth]\ntype = \"header-secret\"\nheader = \"authorization\"\nsecrets = [\"{secret}\"]\n\
         [[tenants.{id}.routes]]\nevent_type = \"{event_type}\"\nrule = \"{rule}\"\n\
         on_failure = \"fail-closed\"\nsettings = {settings}\n",
        secret = AUTH.1,
        rule = rule.display(),
        settings = toml_inline(settings),
    )
}

/// Runs every case of `table` on a server with one tenant per case and rule.
async fn check_over_http(table: &Table, rules: &[(&str, PathBuf)]) {
    let mut config = String::new();
    for (i, _) in table.cases.iter().enumerate() {
        for (label, rule) in rules {
            let id = format!("{label}{i}");
            config += &tenant(&id, &table.event_type, rule, &table.cases[i].settings);
        }
    }
    let server = TestServer::with_config(&config).await;
    let hook = wasmhook::hooks::HookType::of_event_type(&table.event_type).unwrap();
    let closed = hook.failure_answer(wasmhook::okta::FailurePolicy::FailClosed);
    for (i, case) in table.cases.iter().enumerate() {
        for (label, _) in rules {
            let reply = server.hook(&format!("/hooks/{label}{i}"), &case.body).await;
            let got = (reply.status, reply.body.as_str());
            match &case.answer {
                Expected::NoChange => assert_eq!(got, (204, ""), "{label}: {}", case.name),
                Expected::Body(body) => {
                    assert_eq!(got, (200, body.as_str()), "{label}: {}", case.name)
                }
                Expected::Failure => {
                    assert_eq!(got, (200, closed.body().unwrap()), "{label}: {}", case.name)
                }
            }
        }
    }
}

fn check_through_eval(table: &Table, rule: &str) {
    for case in &table.cases {
        let request = write_config(&case.body);
        for language in LANGUAGES {
            let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
                .args([
                    "eval",
                    "--rule",
                    &rule_of(language, rule).display().to_string(),
                ])
                .args(["--request", &request.display().to_string()])
                .args(["--settings", &case.settings.to_string()])
                .output()
                .unwrap();
            let stdout = String::from_utf8(output.stdout).unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let context = format!("{language}: {}: {stderr}", case.name);
            match &case.answer {
                Expected::NoChange => {
                    assert!(output.status.success(), "{context}");
                    assert_eq!(stdout, "", "{context}");
                }
                Expected::Body(body) => {
                    assert!(output.status.success(), "{context}");
                    assert_eq!(&stdout, body, "{context}");
                }
                Expected::Failure => {
                    assert!(!output.status.success(), "{context}");
                    assert!(stderr.contains("failure policy"), "{context}");
                }
            }
        }
    }
}

fn every_language(rule: &str) -> Vec<(&'static str, PathBuf)> {
    LANGUAGES
        .iter()
        .map(|language| (*language, rule_of(language, rule)))
        .collect()
}

#[tokio::test]
async fn every_language_passes_the_token_table_over_http() {
    check_over_http(&table("token-claims"), &every_language("token_claims")).await;
}

#[test]
fn every_language_passes_the_token_table_through_eval() {
    check_through_eval(&table("token-claims"), "token_claims");
}

#[tokio::test]
async fn every_language_passes_the_saml_table_over_http() {
    check_over_http(
        &table("saml-attributes"),
        &every_language("saml_attributes"),
    )
    .await;
}

#[test]
fn every_language_passes_the_saml_table_through_eval() {
    check_through_eval(&table("saml-attributes"), "saml_attributes");
}

#[tokio::test]
async fn token_decisions_okta_would_reject_are_refused() {
    let rules = [("echo", rule_of("rust", "echo_token"))];
    check_over_http(&table("token-refusals"), &rules).await;
}

#[tokio::test]
async fn saml_decisions_okta_would_reject_are_refused() {
    let rules = [("echo", rule_of("rust", "echo_saml"))];
    check_over_http(&table("saml-refusals"), &rules).await;
}

/// By default both hooks fail open: a refused decision leaves the token or assertion unchanged.
#[tokio::test]
async fn a_refused_decision_fails_open_by_default() {
    let reserved =
        serde_json::json!({"access_patch": [{"op": "add", "path": "/claims/iss", "value": "x"}]});
    let bad_path =
        serde_json::json!({"assertion_patch": [{"op": "add", "path": "/nowhere/x", "value": 1}]});
    let config = tenant(
        "token",
        "com.okta.oauth2.tokens.transform",
        &rule_of("rust", "echo_token"),
        &reserved,
    )
    .replace("on_failure = \"fail-closed\"\n", "")
        + &tenant(
            "saml",
            "com.okta.saml.tokens.transform",
            &rule_of("rust", "echo_saml"),
            &bad_path,
        )
        .replace("on_failure = \"fail-closed\"\n", "");
    let server = TestServer::with_config(&config).await;
    let token = server.hook("/hooks/token", crate::common::TOKEN).await;
    assert_eq!((token.status, token.body.as_str()), (204, ""));
    let saml = server.hook("/hooks/saml", crate::common::SAML).await;
    assert_eq!((saml.status, saml.body.as_str()), (204, ""));
    let metrics = server.get("/metrics").await.body;
    for tenant in ["token", "saml"] {
        let line = format!(
            r#"wasmhook_rule_failures_total{{tenant="{tenant}",rule="echo_{tenant}",kind="invalid_output"}} 1"#
        );
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
}

/// A JSON value as a TOML inline value: keys quoted, strings as JSON writes them (valid TOML
/// basic strings for the text used here).
fn toml_inline(value: &Value) -> String {
    match value {
        Value::Object(object) => {
            let entries: Vec<String> = object
                .iter()
                .map(|(key, value)| {
                    format!("{} = {}", Value::from(key.as_str()), toml_inline(value))
                })
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Null => panic!("TOML has no null"),
        scalar => scalar.to_string(),
    }
}
