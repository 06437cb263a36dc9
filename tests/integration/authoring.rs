//! The author's tools on real rules: `wasmhook test` (a table of cases, a JUnit report, two rules
//! compared over captured requests) and what `eval` shows beyond the body (the rule's log lines,
//! what the evaluation used, a route's settings and limits taken from a config).

use std::path::Path;

use crate::common::{SSR_OIE, repo_root, rule, tenant_toml, text, wasmhook, write_config};

/// A fresh folder for one test's files.
fn folder(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wasmhook-authoring-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_failing_case_is_shown_with_its_difference_fails_the_run_and_the_junit_report() {
    let dir = folder("failing");
    let request = repo_root().join("tests/fixtures/okta/registration-ssr-oie.json");
    let cases = dir.join("cases.toml");
    std::fs::write(
        &cases,
        format!(
            r#"
[defaults]
request = "{request}"
settings = {{ allowed_domains = ["example.com"] }}

[[cases]]
name = "allowed"
expect = {{ status = 204 }}

[[cases]]
name = "a wrong expectation"
set = {{ "data.userProfile.email" = "a@evil.example" }}
expect = {{ status = 204 }}

[[cases]]
name = "denied for the email field"
set = {{ "/data/userProfile/email" = "a@evil.example" }}
expect = {{ decision = "deny", error = {{ reason = "INVALID_EMAIL_DOMAIN", location = "data.userProfile.email" }} }}

[[cases]]
name = "settings of the wrong shape are refused when the route loads"
settings = {{ allowed_domains = "example.com" }}
expect = {{ failure = "invalid_settings", message = "allowed_domains" }}
"#,
            request = request.display()
        ),
    )
    .unwrap();
    let report = dir.join("junit.xml");
    let rule = path(&rule("email_domain"));
    let output = wasmhook(&[
        "test",
        "--rule",
        &rule,
        "--cases",
        &path(&cases),
        "--junit",
        &path(&report),
    ]);
    let stdout = text(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        text(&output.stderr).contains("1 of 4 cases failed"),
        "{}",
        text(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("ok    allowed ("), "{stdout}");
    assert!(
        lines[1].starts_with("FAIL  a wrong expectation ("),
        "{stdout}"
    );
    assert_eq!(lines[2].trim(), "status: expected 204, got 200", "{stdout}");
    assert!(
        lines[3].starts_with("ok    denied for the email field"),
        "{stdout}"
    );
    assert!(
        lines[4].starts_with("ok    settings of the wrong shape"),
        "{stdout}"
    );
    assert!(lines[5].contains(": 3 passed, 1 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.contains(r#"<testsuites tests="4" failures="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure message="status: expected 204, got 200">"#),
        "{xml}"
    );
}

#[test]
fn a_cases_file_in_json_names_its_rule_and_inlines_its_request() {
    let dir = folder("json");
    let request: serde_json::Value = serde_json::from_str(SSR_OIE).unwrap();
    let rule = rule("email_domain");
    let cases = serde_json::json!({
        "rule": path(&rule),
        "defaults": {"request": request, "settings": {"allowed_domains": ["example.org"]}},
        "cases": [
            {"name": "denied", "expect": {"commands": [{"type": "com.okta.action.update", "value": {"registration": "DENY"}}]}},
            {"name": "allowed", "set": {"data.userProfile.email": "x@example.org"}, "expect": {"decision": "no-change"}}
        ]
    });
    let file = dir.join("cases.json");
    std::fs::write(&file, cases.to_string()).unwrap();
    let output = wasmhook(&["test", "--cases", &path(&file)]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains(": 2 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_mistake_in_a_cases_file_names_the_case_before_any_rule_runs() {
    let dir = folder("mistake");
    let file = dir.join("cases.toml");
    std::fs::write(
        &file,
        "[[cases]]\nname = \"typo\"\nrequest = \"missing.json\"\nexpect = { status = 204 }\n",
    )
    .unwrap();
    let output = wasmhook(&[
        "test",
        "--rule",
        &path(&rule("email_domain")),
        "--cases",
        &path(&file),
    ]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cases[0] (\"typo\"): cannot read the request"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn two_rules_are_compared_over_a_folder_of_captured_requests() {
    let dir = folder("compare");
    std::fs::write(dir.join("allowed.json"), SSR_OIE).unwrap();
    std::fs::write(
        dir.join("denied.json"),
        SSR_OIE.replace("@example.com", "@evil.example"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a request").unwrap();
    let settings = r#"{"allowed_domains":["example.com"]}"#;
    let compare = |a: &Path, b: &Path| {
        wasmhook(&[
            "test",
            "--rule",
            &path(a),
            "--against",
            &path(b),
            "--requests",
            &path(&dir),
            "--settings",
            settings,
        ])
    };
    // The same rule in another language answers every request alike.
    let python = crate::common::rules_target().join("python/email_domain.wasm");
    let alike = compare(&rule("email_domain"), &python);
    let stdout = text(&alike.stdout);
    assert!(alike.status.success(), "{stdout}{}", text(&alike.stderr));
    assert!(
        stdout.contains("same  allowed.json (no-change)"),
        "{stdout}"
    );
    assert!(stdout.contains("same  denied.json (deny)"), "{stdout}");
    assert!(
        stdout.contains("2 requests: 2 answered alike, 0 differently"),
        "{stdout}"
    );

    // Another rule (employee numbers only) allows what this one denies.
    let differ = compare(&rule("email_domain"), &rule("employee_number"));
    let stdout = text(&differ.stdout);
    assert!(!differ.status.success(), "{stdout}");
    assert!(
        stdout.contains("DIFF  denied.json: deny vs no-change"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 requests: 1 answered alike, 1 differently"),
        "{stdout}"
    );
}

#[test]
fn eval_takes_the_rule_settings_and_limits_of_a_configured_route() {
    let config = write_config(&tenant_toml(
        "acme",
        &rule("email_domain"),
        "{ allowed_domains = [\"example.org\"] }",
        "limits = { fuel = 1000 }",
    ));
    let request = repo_root().join("tests/fixtures/okta/registration-ssr-oie.json");
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--config",
            &*path(&config).leak(),
            "--tenant",
            "acme",
        ];
        args.extend(["--request", path(&request).leak()]);
        args.extend(extra);
        wasmhook(&args)
    };
    // The route's fuel budget applies from the start: too small even to check its settings, so
    // the route would not load.
    let limited = eval(&[]);
    let stderr = text(&limited.stderr);
    assert!(!limited.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "invalid settings (invalid_settings): the rule's validate-settings failed (fuel): \
             fuel budget of 1000 exhausted"
        ),
        "{stderr}"
    );
    // A rule that fails gets the route's failure policy, which is named.
    let failing = eval(&[
        "--fuel",
        "100000000",
        "--rule",
        path(&rule("misbehave")).leak(),
        "--settings",
        r#"{"behaviour":"panic"}"#,
    ]);
    let stderr = text(&failing.stderr);
    assert!(!failing.status.success(), "{stderr}");
    assert!(stderr.contains("the rule failed (trap)"), "{stderr}");
    assert!(stderr.contains("for this route (fail-closed)"), "{stderr}");
    // With the budget lifted, the route's settings (only example.org) deny example.com.
    let denied = eval(&["--fuel", "100000000"]);
    assert!(denied.status.success(), "{}", text(&denied.stderr));
    assert!(text(&denied.stdout).contains("Only emails from example.org can register."));
    // --route picks a route by index; a wrong one is named.
    let wrong = eval(&["--route", "3"]);
    assert!(
        text(&wrong.stderr).contains("tenant `acme` has 1 routes"),
        "{}",
        text(&wrong.stderr)
    );
    let unknown = wasmhook(&[
        "eval",
        "--config",
        &path(&config),
        "--tenant",
        "nobody",
        "--request",
        &path(&request),
    ]);
    assert!(
        text(&unknown.stderr).contains("no tenant `nobody` (tenants: acme)"),
        "{}",
        text(&unknown.stderr)
    );
}

#[test]
fn eval_shows_the_rules_log_lines_escaped_and_what_the_evaluation_used() {
    let request = repo_root().join("tests/fixtures/okta/registration-ssr-oie.json");
    let output = wasmhook(&[
        "eval",
        "--rule",
        &path(&rule("misbehave")),
        "--request",
        &path(&request),
        "--settings",
        r#"{"behaviour":"log-escapes"}"#,
    ]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("wasmhook::guest"), "{stderr}");
    // The rule's first line (a megabyte of ESC) is shown escaped and cut to the log budget, which
    // it uses up: the host says so rather than dropping its second line silently.
    assert!(stderr.contains(r"\u{1b}\u{1b}\u{1b}"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "a raw escape code reached the terminal"
    );
    assert!(stderr.contains("guest log output truncated"), "{stderr}");
    let summary = stderr.lines().last().unwrap();
    assert!(
        summary.starts_with("204 No Content (no-change) in "),
        "{summary}"
    );
    assert!(
        summary.contains(", fuel ") && summary.contains(" MiB"),
        "{summary}"
    );
}
