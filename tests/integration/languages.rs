//! The same rule written in Rust, Python, JavaScript and C, held to one decision table
//! (`tests/fixtures/decisions/email-domain.json`), through the server and through `wasmhook eval`.
//! So is the rule built against the frozen `wasmhook:rule@0.1.0` WIT (`tests/fixtures/wit-0.1.0`),
//! from before the WIT was split per hook: rules built against older 0.1.x packages keep working.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::common::{TestServer, repo_root, rules_target, tenant_toml, write_config};

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

struct Table {
    settings: Value,
    deny: String,
    cases: Vec<Case>,
}

struct Case {
    name: String,
    body: String,
    allow: bool,
}

fn table() -> Table {
    let file = repo_root().join("tests/fixtures/decisions/email-domain.json");
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
            let profile = body["data"]["userProfile"].as_object_mut().unwrap();
            match &case["email"] {
                Value::Null => profile.remove("email"),
                email => profile.insert("email".into(), email.clone()),
            };
            Case {
                name: case["name"].as_str().unwrap().into(),
                body: body.to_string(),
                allow: case["expect"] == "allow",
            }
        })
        .collect();
    Table {
        settings: table["settings"].clone(),
        deny: table["deny"].to_string(),
        cases,
    }
}

fn rule_of(language: &str) -> PathBuf {
    let (_, path) = LANGUAGES.iter().find(|(l, _)| *l == language).unwrap();
    rules_target().join(path)
}

#[tokio::test]
async fn every_language_passes_the_decision_table_over_http() {
    let table = table();
    let mut config = String::new();
    for (language, _) in LANGUAGES {
        config += &tenant_toml(
            language,
            &rule_of(language),
            &toml_inline(&table.settings),
            "",
        );
    }
    let server = TestServer::with_config(&config).await;
    for case in &table.cases {
        for (language, _) in LANGUAGES {
            let reply = server.hook(&format!("/hooks/{language}"), &case.body).await;
            if case.allow {
                assert_eq!(
                    (reply.status, reply.body.as_str()),
                    (204, ""),
                    "{language}: {}",
                    case.name
                );
            } else {
                assert_eq!(reply.status, 200, "{language}: {}", case.name);
                assert_eq!(reply.body, table.deny, "{language}: {}", case.name);
            }
        }
    }
}

#[test]
fn every_language_passes_the_decision_table_through_eval() {
    let table = table();
    let settings = table.settings.to_string();
    for case in &table.cases {
        let request = write_config(&case.body);
        for (language, _) in LANGUAGES {
            let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
                .args(["eval", "--rule", &rule_of(language).display().to_string()])
                .args([
                    "--request",
                    &request.display().to_string(),
                    "--settings",
                    &settings,
                ])
                .output()
                .unwrap();
            let stdout = String::from_utf8(output.stdout).unwrap();
            assert!(
                output.status.success(),
                "{language}: {}: {}",
                case.name,
                String::from_utf8_lossy(&output.stderr)
            );
            let expected = if case.allow { "" } else { table.deny.as_str() };
            assert_eq!(stdout, expected, "{language}: {}", case.name);
        }
    }
}

/// Settings without `allowed_domains` are a configuration mistake: every language must fail (so
/// the route's failure policy answers) rather than allow or deny.
#[test]
fn every_language_fails_on_settings_without_allowed_domains() {
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
        assert!(stderr.contains("failure policy"), "{language}: {stderr}");
    }
}

/// A JSON object of strings and string arrays as a TOML inline table (their JSON forms are
/// valid TOML values).
fn toml_inline(value: &Value) -> String {
    let entries: Vec<String> = value
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| format!("{key} = {value}"))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}
