//! The token, SAML assertion and user import hooks end to end: each example rule, written in
//! Rust, Python and JavaScript, held to one decision table per hook (`tests/fixtures/decisions/`) through the
//! server and through `wasmhook test`; and what the server refuses in a decision, driven through
//! the server and `wasmhook test` by the echo test rules.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{AUTH, TestServer, rules_target};
use crate::tables;

const LANGUAGES: [&str; 3] = ["rust", "python", "javascript"];

/// Where `language`'s build of the rule `name` (file stem) lands under `rules/target`.
fn rule_of(language: &str, name: &str) -> PathBuf {
    let folder = match language {
        "rust" => "wasm32-wasip2/release",
        other => other,
    };
    rules_target().join(folder).join(format!("{name}.wasm"))
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
        settings = tables::toml_inline(settings),
    )
}

fn every_language(rule: &str) -> Vec<(&'static str, PathBuf)> {
    LANGUAGES
        .iter()
        .map(|language| (*language, rule_of(language, rule)))
        .collect()
}

#[tokio::test]
async fn every_language_passes_the_token_table_over_http() {
    tables::check_over_http("token-claims", &every_language("token_claims")).await;
}

#[test]
fn every_language_passes_the_token_table_through_wasmhook_test() {
    tables::check_with_wasmhook_test("token-claims", &every_language("token_claims"));
}

#[tokio::test]
async fn every_language_passes_the_saml_table_over_http() {
    tables::check_over_http("saml-attributes", &every_language("saml_attributes")).await;
}

#[test]
fn every_language_passes_the_saml_table_through_wasmhook_test() {
    tables::check_with_wasmhook_test("saml-attributes", &every_language("saml_attributes"));
}

#[tokio::test]
async fn every_language_passes_the_user_import_table_over_http() {
    let rules = every_language("user_import_normalise");
    tables::check_over_http("user-import-normalise", &rules).await;
}

#[test]
fn every_language_passes_the_user_import_table_through_wasmhook_test() {
    let rules = every_language("user_import_normalise");
    tables::check_with_wasmhook_test("user-import-normalise", &rules);
}

#[tokio::test]
async fn user_import_decisions_okta_would_reject_are_refused() {
    let rules = [("echo", rule_of("rust", "user_import_echo"))];
    tables::check_over_http("user-import-refusals", &rules).await;
    tables::check_with_wasmhook_test("user-import-refusals", &rules);
}

#[tokio::test]
async fn token_decisions_okta_would_reject_are_refused() {
    let rules = [("echo", rule_of("rust", "echo_token"))];
    tables::check_over_http("token-refusals", &rules).await;
    tables::check_with_wasmhook_test("token-refusals", &rules);
}

#[tokio::test]
async fn saml_decisions_okta_would_reject_are_refused() {
    let rules = [("echo", rule_of("rust", "echo_saml"))];
    tables::check_over_http("saml-refusals", &rules).await;
    tables::check_with_wasmhook_test("saml-refusals", &rules);
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
