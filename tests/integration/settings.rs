//! Settings checked at load (`validate-settings`): a route whose settings its rule refuses does
//! not load, in `check`, at start-up, on a reload, in `eval` and in `wasmhook test`; a rule built
//! before the check existed (the frozen 0.1.0 contract) loads whatever its settings; a check that
//! traps, loops or hoards memory is stopped by the route's limits and refuses the settings.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{
    SSR_OIE, TestServer, fixture, rule, rules_target, tenant_toml, text, wasmhook, write_config,
};

/// The message every language's email-domain rule refuses wrong-shaped settings with.
const REFUSAL: &str = "the rule refused them: `allowed_domains` must be a list of email domains";
/// `allowed_domains` as one string instead of a list: what an operator writes by mistake.
const WRONG_SHAPE: &str = "{ allowed_domains = \"mailinator.com\" }";
const RIGHT_SHAPE: &str = "{ allowed_domains = [\"example.com\"] }";

/// Each language's build of email-domain under `rules/target`.
fn email_domain_rules() -> Vec<(&'static str, PathBuf)> {
    [
        ("rust", "wasm32-wasip2/release/email_domain.wasm"),
        ("python", "python/email_domain.wasm"),
        ("javascript", "javascript/email_domain.wasm"),
        ("c", "c/email_domain.wasm"),
    ]
    .into_iter()
    .map(|(language, path)| (language, rules_target().join(path)))
    .collect()
}

/// `wasmhook check --config <config>`, failing the test if it runs for more than 30 s (a
/// settings check that nothing stops would never return).
fn check(config: &Path) -> Output {
    let mut check = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["check", "--config", &config.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while check.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = check.kill();
            panic!("check ran for 30 s: nothing stopped it");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check.wait_with_output().unwrap()
}

#[test]
fn check_refuses_settings_the_rule_refuses_naming_tenant_and_route_in_every_language() {
    for (language, rule) in email_domain_rules() {
        let good = tenant_toml("good", &rule, RIGHT_SHAPE, "");
        let bad = tenant_toml("acme", &rule, WRONG_SHAPE, "");
        let output = check(&write_config(&format!("{good}{bad}")));
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{language}: {stderr}");
        assert!(
            stderr.contains(&format!("tenant `acme`: routes[0].settings: {REFUSAL}")),
            "{language}: {stderr}"
        );
        assert!(
            !stderr.contains("mailinator"),
            "{language}: the value is not repeated: {stderr}"
        );

        let output = check(&write_config(&good));
        assert!(
            output.status.success(),
            "{language}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn eval_refuses_settings_the_rule_refuses_in_every_language() {
    for (language, rule) in email_domain_rules() {
        let eval = |settings: &str| {
            wasmhook(&[
                "eval",
                "--rule",
                &rule.display().to_string(),
                "--request",
                &fixture("registration-ssr-oie.json"),
                "--settings",
                settings,
            ])
        };
        let output = eval(r#"{"allowed_domains":"mailinator.com"}"#);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{language}: {stderr}");
        assert!(output.stdout.is_empty(), "{language}: no body");
        assert!(
            stderr.contains(&format!("invalid settings (invalid_settings): {REFUSAL}")),
            "{language}: {stderr}"
        );
        let output = eval(r#"{"allowed_domains":["example.com"]}"#);
        assert!(
            output.status.success(),
            "{language}: {}",
            text(&output.stderr)
        );
    }
}

#[test]
fn serve_does_not_start_with_settings_its_rules_refuse() {
    // As for a rule that fails to compile: start-up loads every tenant or none.
    let config = write_config(&format!(
        "{}{}",
        tenant_toml("good", &rule("email_domain"), RIGHT_SHAPE, ""),
        tenant_toml("acme", &rule("email_domain"), WRONG_SHAPE, "")
    ));
    let mut serve = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["serve", "--config", &config.display().to_string()])
        .args(["--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = serve.kill();
            panic!("serve started with settings its rule refuses");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("tenant `acme`: routes[0].settings: {REFUSAL}")),
        "{stderr}"
    );
}

/// Rule email-domain with `example.com` denies this call; with `example.org` it allows it.
fn org_call() -> String {
    SSR_OIE.replace("@example.com", "@example.org")
}

/// Polls `/readyz` until tenant `id` shows an error, and returns it; panics after 10 s.
async fn load_error(server: &TestServer, id: &str) -> String {
    let started = Instant::now();
    loop {
        let status = server.get("/readyz").await.json();
        if let Some(error) = status["tenants"][id]["error"].as_str() {
            return error.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no error for `{id}`: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn replace_by_rename(path: &Path, contents: &str) {
    let temporary = path.with_extension("tmp~");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[tokio::test]
async fn a_reload_with_refused_settings_keeps_the_last_good_version_serving() {
    let email_domain = rule("email_domain");
    let config = write_config(&tenant_toml("t", &email_domain, RIGHT_SHAPE, ""));
    let server = TestServer::start(&config).await;
    let denied = |reply: &crate::common::Reply| {
        reply.status == 200 && reply.body.contains("INVALID_EMAIL_DOMAIN")
    };
    assert!(denied(&server.hook("/hooks/t", &org_call()).await));

    // The new settings would fail every call: they are refused, and the old ones keep serving.
    let wrong = "{ allowed_domains = \"example.org\" }";
    replace_by_rename(&config, &tenant_toml("t", &email_domain, wrong, ""));
    let error = load_error(&server, "t").await;
    assert!(
        error.contains(&format!("tenant `t`: routes[0].settings: {REFUSAL}")),
        "{error}"
    );
    let reply = server.hook("/hooks/t", &org_call()).await;
    assert!(denied(&reply), "the last good version answers: {reply:?}");

    // Fixed settings load and serve.
    let fixed = "{ allowed_domains = [\"example.org\"] }";
    replace_by_rename(&config, &tenant_toml("t", &email_domain, fixed, ""));
    let started = Instant::now();
    while server.hook("/hooks/t", &org_call()).await.status != 204 {
        assert!(started.elapsed() < Duration::from_secs(10), "never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.get("/readyz").await.json()["tenants"]["t"]["error"].is_null());
}

#[tokio::test]
async fn a_tenant_added_with_refused_settings_is_not_served_and_the_others_are() {
    let email_domain = rule("email_domain");
    let good = tenant_toml("good", &email_domain, RIGHT_SHAPE, "");
    let config = write_config(&good);
    let server = TestServer::start(&config).await;

    let bad = tenant_toml("acme", &email_domain, WRONG_SHAPE, "");
    replace_by_rename(&config, &format!("{good}{bad}"));
    let error = load_error(&server, "acme").await;
    assert!(error.contains(REFUSAL), "{error}");
    // Never loaded, so there is nothing to serve: the tenant is unknown, as before it was added.
    assert_eq!(server.hook("/hooks/acme", SSR_OIE).await.status, 404);
    assert_eq!(server.hook("/hooks/good", SSR_OIE).await.status, 204);
    let status = server.get("/readyz").await.json();
    assert!(status["tenants"]["good"]["error"].is_null(), "{status}");
}

#[test]
fn a_rule_built_against_wit_0_1_0_has_no_settings_check_and_still_loads() {
    let old = rules_target().join("wasm32-wasip2/release/email_domain_wit_0_1_0.wasm");
    let output = check(&write_config(&tenant_toml("t", &old, WRONG_SHAPE, "")));
    assert!(output.status.success(), "{}", text(&output.stderr));
    // As before the check existed, such settings fail each call instead.
    let output = wasmhook(&[
        "eval",
        "--rule",
        &old.display().to_string(),
        "--request",
        &fixture("registration-ssr-oie.json"),
        "--settings",
        r#"{"allowed_domains":"mailinator.com"}"#,
    ]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("the rule failed (rule_error)"), "{stderr}");
}

#[test]
fn a_settings_check_that_traps_loops_or_hoards_memory_is_stopped_by_the_limits_and_refuses() {
    let misbehave = rule("misbehave");
    for (validate, limits, expected) in [
        (
            "loop",
            "limits = { deadline_ms = 200 }",
            "the rule's validate-settings failed (deadline): deadline of 200 ms exceeded",
        ),
        (
            "loop",
            "limits = { fuel = 1000000 }",
            "the rule's validate-settings failed (fuel): fuel budget of 1000000 exhausted",
        ),
        (
            "allocate",
            "limits = { max_memory_mb = 16 }",
            "the rule's validate-settings failed (memory): memory cap of 16777216 bytes exceeded",
        ),
        ("panic", "", "validate-settings panicked"),
    ] {
        let settings = format!("{{ behaviour = \"allow\", validate = \"{validate}\" }}");
        let config = write_config(&tenant_toml("t", &misbehave, &settings, limits));
        let started = Instant::now();
        let output = check(&config);
        let took = started.elapsed();
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{validate}: {stderr}");
        assert!(
            stderr.contains("tenant `t`: routes[0].settings: ") && stderr.contains(expected),
            "{validate} ({limits}): {stderr}"
        );
        // The check runs under the route's deadline (default 1 s), compilation included.
        assert!(took < Duration::from_secs(10), "{validate}: {took:?}");
    }
    // The same check accepts when told to.
    let settings = "{ behaviour = \"allow\", validate = \"accept\" }";
    let output = check(&write_config(&tenant_toml("t", &misbehave, settings, "")));
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn a_refusal_message_is_escaped_onto_one_line_and_capped() {
    let settings = "{ behaviour = \"allow\", validate = \"refuse-hostile\" }";
    let output = check(&write_config(&tenant_toml(
        "t",
        &rule("misbehave"),
        settings,
        "",
    )));
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line and the summary: {stderr:?}");
    assert!(lines[1].starts_with("error: 1 problem in "), "{stderr}");
    assert!(
        lines[0].contains("routes[0].settings: the rule refused them: refused\\n2026-01-01"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no raw escape byte: {stderr:?}");
    assert!(stderr.contains("\\u{1b}[2J"), "{stderr}");
    assert!(stderr.contains("…[truncated]"), "{stderr}");
    assert!(stderr.len() < 2048, "capped: {} bytes", stderr.len());
}

#[test]
fn wasmhook_test_fails_a_case_whose_settings_are_refused_unless_it_expects_that() {
    let dir = std::env::temp_dir().join(format!("wasmhook-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = dir.join("cases.toml");
    std::fs::write(
        &cases,
        format!(
            r#"
[defaults]
request = "{request}"
settings = {{ allowed_domains = "mailinator.com" }}

[[cases]]
name = "refusal expected"
expect = {{ failure = "invalid_settings", message = "allowed_domains" }}

[[cases]]
name = "refusal not expected"
expect = {{ status = 204 }}

[[cases]]
name = "another failure expected"
expect = {{ failure = "rule_error" }}
"#,
            request = fixture("registration-ssr-oie.json")
        ),
    )
    .unwrap();
    for (language, rule) in email_domain_rules() {
        let output = wasmhook(&[
            "test",
            "--rule",
            &rule.display().to_string(),
            "--cases",
            &cases.display().to_string(),
        ]);
        let stdout = text(&output.stdout);
        assert!(!output.status.success(), "{language}: {stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(
            lines[0].starts_with("ok    refusal expected"),
            "{language}: {stdout}"
        );
        assert!(
            lines[1].starts_with("FAIL  refusal not expected"),
            "{language}: {stdout}"
        );
        assert!(
            lines[2].contains("a failure (invalid_settings)") && lines[2].contains(REFUSAL),
            "{language}: {stdout}"
        );
        assert!(
            lines[3].starts_with("FAIL  another failure expected"),
            "{language}: {stdout}"
        );
        assert!(
            lines[4].contains("failure: expected rule_error, got invalid_settings"),
            "{language}: {stdout}"
        );
    }
}

#[test]
fn a_rule_that_defines_no_settings_check_accepts_any_settings_in_every_language() {
    // The SDKs' defaults: the Rust trait's method, Python's `AcceptAllSettings` (through
    // `wasmhook_app`), the JavaScript entry module's `acceptAllSettings`, C's weak symbol.
    let rules = [
        ("rust", rule("employee_number")),
        ("python", rules_target().join("python/allow_all.wasm")),
        (
            "javascript",
            rules_target().join("javascript/allow_all.wasm"),
        ),
        ("c", rules_target().join("c/allow_all.wasm")),
    ];
    let settings = "{ allowed_domains = \"mailinator.com\", anything = [1, { at = \"all\" }] }";
    for (language, rule) in rules {
        let output = check(&write_config(&tenant_toml("t", &rule, settings, "")));
        assert!(
            output.status.success(),
            "{language}: {}",
            text(&output.stderr)
        );
        let output = wasmhook(&[
            "eval",
            "--rule",
            &rule.display().to_string(),
            "--request",
            &fixture("registration-ssr-oie.json"),
            "--settings",
            r#"{"allowed_domains":"mailinator.com"}"#,
        ]);
        assert!(
            output.status.success(),
            "{language}: {}",
            text(&output.stderr)
        );
    }
}
