//! The repository's decision tables (`tests/fixtures/decisions/*.toml`, in the cases format of
//! `wasmhook test`), checked the two ways a rule answers: through the server, over HTTP, and
//! through `wasmhook test`. The tables are loaded by the library, as `wasmhook test` loads them,
//! and the server's replies are judged by the same [`Expectation::check`].

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wasmhook::cases::{CaseFile, Observed};
use wasmhook::config::Config;
use wasmhook::hooks::HookType;
use wasmhook::okta::{Answer, FailurePolicy};
use wasmhook::runtime::Runtime;
use wasmhook::tenant::Tenants;

use crate::common::{AUTH, Reply, TestServer, repo_root, write_config};

/// The decision table `name` (a file stem).
pub fn file(name: &str) -> PathBuf {
    repo_root().join(format!("tests/fixtures/decisions/{name}.toml"))
}

fn load(name: &str) -> CaseFile {
    CaseFile::load(&file(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Checks every case of the table `name` through a server with one tenant per case and rule
/// (each case may have its own settings). Routes fail closed, so that a case expecting no
/// decision is told apart from "no change". A tenant whose settings the rule refuses cannot be
/// served: its case is checked against the load error instead (kind `invalid_settings`), which
/// the server, `check` and a reload all get from the same place.
pub async fn check_over_http(name: &str, rules: &[(&str, PathBuf)]) {
    let table = load(name);
    let runtime = Runtime::new(wasmhook::config::default_cache_dir().as_deref()).unwrap();
    let mut config = String::new();
    let mut served = Vec::new();
    for (i, case) in table.cases.iter().enumerate() {
        let request: Value = serde_json::from_slice(&case.request).unwrap();
        for (label, rule) in rules {
            let id = format!("{label}{i}");
            let toml = tenant(
                &id,
                request["eventType"].as_str().unwrap(),
                rule,
                &case.settings,
            );
            match refused_settings(&runtime, &toml) {
                None => {
                    config += &toml;
                    served.push(id);
                }
                Some(refusal) => {
                    let problems = case.expect.check(&refusal);
                    assert!(problems.is_empty(), "{label}: {}: {problems:?}", case.name);
                }
            }
        }
    }
    let server = TestServer::with_config(&config).await;
    for (i, case) in table.cases.iter().enumerate() {
        let request: Value = serde_json::from_slice(&case.request).unwrap();
        let hook = HookType::of_event_type(request["eventType"].as_str().unwrap()).unwrap();
        let failure = hook.failure_answer(FailurePolicy::FailClosed);
        for (label, _) in rules {
            if !served.contains(&format!("{label}{i}")) {
                continue;
            }
            let body = std::str::from_utf8(&case.request).unwrap();
            let reply = server.hook(&format!("/hooks/{label}{i}"), body).await;
            let observed = observed(&reply, &failure);
            // The server's reply cannot tell one failure kind from another: its log does.
            let problems = match (&observed, case.expect.expects_failure()) {
                (Observed::Failure { .. }, true) => vec![],
                (_, true) => vec![format!("expected a failure, got {}", reply.body)],
                (_, false) => case.expect.check(&observed),
            };
            assert!(problems.is_empty(), "{label}: {}: {problems:?}", case.name);
        }
    }
}

/// Runs `wasmhook test` with the table `name` on each rule: every case must pass.
pub fn check_with_wasmhook_test(name: &str, rules: &[(&str, PathBuf)]) {
    let cases = load(name).cases.len();
    for (label, rule) in rules {
        let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args(["test", "--rule", &rule.display().to_string()])
            .args(["--cases", &file(name).display().to_string()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{label}: {stdout}{stderr}");
        assert!(
            stdout.contains(&format!(": {cases} passed, 0 failed")),
            "{label}: {stdout}"
        );
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("ok ")).count(),
            cases
        );
    }
}

/// Loads the one-tenant config `toml` as the server would: `None` if it loads, the refusal (as a
/// case sees it) if the rule refuses its settings. Any other load error fails the test.
fn refused_settings(runtime: &Runtime, toml: &str) -> Option<Observed> {
    let config = Config::load(&write_config(toml), None).unwrap();
    let pulled = wasmhook::registry::PulledRules::default();
    let problems = Tenants::build(&config, runtime, &pulled).err()?;
    let [error] = problems.0.as_slice() else {
        panic!("more than the settings refused: {problems}");
    };
    assert!(
        error.location.ends_with("routes[0].settings: "),
        "not a settings refusal: {error}"
    );
    Some(Observed::Failure {
        kind: "invalid_settings",
        message: error.to_string(),
    })
}

/// What a reply says, as a case sees it: the route's failure answer is a failure.
fn observed(reply: &Reply, failure: &Answer) -> Observed {
    if reply.status == 204 {
        return Observed::Answer(Answer::NoChange);
    }
    assert_eq!(reply.status, 200, "{}", reply.body);
    if failure.body() == Some(reply.body.as_str()) {
        return Observed::Failure {
            kind: "failure policy",
            message: String::new(),
        };
    }
    let body = reply.json();
    let denies = body.get("error").is_some()
        || body["commands"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["value"]["registration"] == "DENY"));
    if denies {
        Observed::Answer(Answer::Deny(reply.body.clone()))
    } else {
        Observed::Answer(Answer::Commands(reply.body.clone()))
    }
}

/// A tenant `id` whose calls of `event_type` run `rule` with `settings` (JSON text), failing closed.
fn tenant(id: &str, event_type: &str, rule: &Path, settings: &str) -> String {
    let settings: Value = serde_json::from_str(settings).unwrap();
    format!(
        "[tenants.{id}.auth]\ntype = \"header-secret\"\nheader = \"authorization\"\nsecrets = [\"{secret}\"]\n\
         [[tenants.{id}.routes]]\nevent_type = \"{event_type}\"\nrule = \"{rule}\"\n\
         on_failure = \"fail-closed\"\nsettings = {settings}\n",
        secret = AUTH.1,
        rule = rule.display(),
        settings = toml_inline(&settings),
    )
}

/// A JSON value as a TOML inline value: keys quoted, strings as JSON writes them (valid TOML
/// basic strings for the text used here).
pub fn toml_inline(value: &Value) -> String {
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
