//! The same rule written in Rust, Python, JavaScript and C, held to one decision table
//! (`tests/fixtures/decisions/email-domain.toml`), through the server and through `wasmhook test`.
//! So is the rule built against the frozen `wasmhook:rule@0.1.0` WIT (`tests/fixtures/wit-0.1.0`),
//! from before the WIT was split per hook: rules built against older 0.1.x packages keep working.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{repo_root, rules_target};
use crate::tables;

/// Each language and where its build of `email-domain` lands under `rules/target`.
const LANGUAGES: [(&str, &str); 5] = [
    ("rust", "wasm32-wasip2/release/email_domain.wasm"),
    (
        "rust_wit_0_1_0",
        "wasm32-wasip2/release/email_domain_wit_0_1_0.wasm",
    ),
    ("python", "python/email_domain.wasm"),
    ("javascript", "javascript/email_domain.wasm"),
    ("c", "c/email_domain.wasm"),
];

fn rule_of(language: &str) -> PathBuf {
    let (_, path) = LANGUAGES.iter().find(|(l, _)| *l == language).unwrap();
    rules_target().join(path)
}

fn every_language() -> Vec<(&'static str, PathBuf)> {
    LANGUAGES
        .iter()
        .map(|(language, path)| (*language, rules_target().join(path)))
        .collect()
}

#[tokio::test]
async fn every_language_passes_the_decision_table_over_http() {
    tables::check_over_http("email-domain", &every_language()).await;
}

#[test]
fn every_language_passes_the_decision_table_through_wasmhook_test() {
    tables::check_with_wasmhook_test("email-domain", &every_language());
}

/// Settings without `allowed_domains` are a configuration mistake: every language refuses them
/// when the route loads (`validate-settings`), rather than allow or deny. The rule built against
/// the 0.1.0 contract, which has no settings check, fails the call instead (so the route's failure
/// policy answers).
#[test]
fn every_language_refuses_settings_without_allowed_domains() {
    let request = repo_root().join("tests/fixtures/okta/registration-ssr-oie.json");
    for (language, _) in LANGUAGES {
        let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args(["eval", "--rule", &rule_of(language).display().to_string()])
            .args(["--request", &request.display().to_string()])
            .args(["--settings", r#"{"allowed_domain": ["example.com"]}"#])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{language}: {stderr}");
        assert!(output.stdout.is_empty(), "{language}: {stderr}");
        if language == "rust_wit_0_1_0" {
            assert!(stderr.contains("failure policy"), "{language}: {stderr}");
        } else {
            assert!(
                stderr.contains(
                    "invalid settings (invalid_settings): the rule refused them: `allowed_domains`"
                ),
                "{language}: {stderr}"
            );
        }
    }
}
