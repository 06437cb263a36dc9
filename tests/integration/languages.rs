//! The same rule written in Rust, Python, JavaScript and C, held to one decision table
//! (`tests/fixtures/decisions/email-domain.toml`), through the server and through `wasmhook test`.
//! So is the rule built against the frozen `wasmhook:rule@0.1.0` WIT (`tests/fixtures/wit-0.1.0`),
//! from before the WIT was split per hook: rules built against older 0.1.x packages keep working.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{ServeProcess, repo_root, rules_target};
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

/// What the Python and JavaScript test rules (`allow-all`) say when a `crash` setting makes them
/// call a helper that does not exist: the exception's type, message and where, which the
/// helpers in `guest-sdk/` make the rule's `err` (on one line, as every place shows it).
const EXCEPTIONS: [(&str, &str, &str); 2] = [
    (
        "python",
        "python/allow_all.wasm",
        "AttributeError: module 'wasmhook_sdk' has no attribute 'allow_all' at app.py:14 in evaluate",
    ),
    (
        "javascript",
        "javascript/allow_all.wasm",
        "TypeError: not a function at evaluate (rules/javascript/allow-all/rule.js:10:",
    ),
];

/// The exceptions above reach `wasmhook test` (a case expecting the message) and the server's log
/// (the failure's one line) too.
#[test]
fn exceptions_reach_wasmhook_test_and_the_server_log() {
    let request = repo_root().join("tests/fixtures/okta/registration-ssr-oie.json");
    let settings = "{ crash = true }";
    let mut config = String::new();
    for (language, rule, exception) in EXCEPTIONS {
        let rule = rules_target().join(rule);
        let cases = crate::common::write_config(&format!(
            "[[cases]]\nname = \"a helper that does not exist\"\nrequest = '{}'\nsettings = {settings}\n\
             expect = {{ failure = \"rule_error\", message = \"{}\" }}\n",
            request.display(),
            exception.replace('"', "\\\""),
        ));
        let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args(["test", "--rule", &rule.display().to_string()])
            .args(["--cases", &cases.display().to_string()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{language}: {stdout}");
        config += &crate::common::tenant_toml(language, &rule, settings, "");
    }
    let server = ServeProcess::start(&crate::common::write_config(&config), "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (language, _, exception) in EXCEPTIONS {
        let reply = runtime.block_on(crate::common::send(
            server.address,
            "POST",
            &format!("/hooks/{language}"),
            &[crate::common::AUTH],
            crate::common::SSR_OIE.into(),
        ));
        assert_eq!(reply.status, 200, "{language}: the failure policy answers");
        let line = server.wait_for_line(|line| line.contains("rule failed"));
        let logged: serde_json::Value = serde_json::from_str(&line).unwrap();
        let error = logged["error"].as_str().unwrap_or_default();
        assert!(error.contains(exception), "{language}: {line}");
    }
    server.stop();
}

/// A JavaScript rule built without `--backend-qjs-disable-async` (a few seconds with jco) is
/// refused at load, on one line, with a hint naming the flag.
#[test]
fn a_javascript_rule_built_without_the_sync_flag_is_refused_with_a_hint() {
    let rules = rules_target().parent().unwrap().to_owned();
    let output = std::env::temp_dir().join(format!("wasmhook-async-{}.wasm", std::process::id()));
    let built = Command::new(rules.join("javascript/node_modules/.bin/jco"))
        .current_dir(&rules)
        .arg("componentize")
        .arg(rules.join("javascript/email-domain/rule.js"))
        .args([
            "--bundle",
            "--bundle-config",
            "javascript/bundle.config.mjs",
        ])
        .args(["--backend", "quickjs", "--wit", "../wit"])
        .args(["--world-name", "registration-rule", "-o"])
        .arg(&output)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let request = repo_root().join("tests/fixtures/okta/registration-ssr-oie.json");
    let eval = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["eval", "--rule", &output.display().to_string()])
        .args(["--request", &request.display().to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&eval.stderr);
    assert!(!eval.status.success(), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("requires the component model async feature")
            && stderr.contains("hint: built without `--backend-qjs-disable-async`?"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(output);
}

/// Rules made by the same toolchain share most of their code (here QuickJS): the second one
/// compiled by an engine reuses the first one's compiled functions (runtime/compiled_functions.rs).
#[test]
fn a_second_rule_of_a_language_reuses_the_first_ones_compiled_functions() {
    let javascript = crate::common::rules_target().join("javascript");
    // No cache on disk, so that both rules are compiled here.
    let runtime = wasmhook::runtime::Runtime::new(None).unwrap();
    runtime
        .load(&javascript.join("email_domain.wasm"), u64::MAX)
        .unwrap();
    let after_first = runtime.reused_functions();
    runtime
        .load(&javascript.join("token_claims.wasm"), u64::MAX)
        .unwrap();
    let reused = runtime.reused_functions() - after_first;
    assert!(reused > 1000, "{reused} functions reused");
}

/// A config load keeps the functions it compiled only while it lasts (after the Python rules
/// they take about 47 MB): the next rule of the same language, compiled afterwards, reuses no
/// more of them than it does compiled alone (its own repeated functions).
#[test]
fn a_config_load_lets_go_of_the_functions_it_compiled() {
    let javascript = crate::common::rules_target().join("javascript");
    let next = javascript.join("token_claims.wasm");
    // No cache on disk, so that every rule here is compiled.
    let alone = wasmhook::runtime::Runtime::new(None).unwrap();
    alone.load(&next, u64::MAX).unwrap();
    let reused_alone = alone.reused_functions();

    let settings = "{ allowed_domains = [\"example.com\"] }";
    let rule = javascript.join("email_domain.wasm");
    let file = crate::common::write_config(&crate::common::tenant_toml("t", &rule, settings, ""));
    let config = wasmhook::config::Config::load(&file, None).unwrap();
    let runtime = wasmhook::runtime::Runtime::new(None).unwrap();
    let pulled = wasmhook::registry::PulledRules::default();
    wasmhook::tenant::Tenants::build(&config, &runtime, &pulled).unwrap();
    let after_load = runtime.reused_functions();
    runtime.load(&next, u64::MAX).unwrap();
    let reused = runtime.reused_functions() - after_load;
    // Measured: 806 and 806; 2,493 when the load keeps its functions. The margin is for
    // parallel compiles, where two copies of a function can both miss the store.
    assert!(
        reused.abs_diff(reused_alone) < 200,
        "{reused} functions reused after the load, {reused_alone} by the rule alone"
    );
}
