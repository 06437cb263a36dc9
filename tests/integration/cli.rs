//! The `wasmhook` binary as a user runs it: `eval`, `check` and `serve`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::{
    PP_OIE, SSR_OIE, ServeProcess, TestServer, fixture, quickstart_config, repo_root, rule, text,
    wasmhook, write_config,
};

fn eval(rule_name: &str, request: &str, settings: Option<&str>) -> Output {
    let rule = rule(rule_name).display().to_string();
    let mut args = vec!["eval", "--rule", &rule, "--request", request];
    if let Some(settings) = settings {
        args.extend(["--settings", settings]);
    }
    wasmhook(&args)
}

#[tokio::test]
async fn eval_prints_exactly_what_the_server_sends() {
    let server = TestServer::quickstart().await;
    let denied_ssr = SSR_OIE.replace("@example.com", "@example.org");
    let denied_pp = PP_OIE.replace("\"1234\"", "\"12\"");
    let denied_ssr_file = write_config(&denied_ssr);
    let denied_pp_file = write_config(&denied_pp);
    let settings = r#"{"allowed_domains":["example.com"]}"#;
    let cases = [
        (
            "email_domain",
            fixture("registration-ssr-oie.json"),
            SSR_OIE.to_owned(),
        ),
        (
            "email_domain",
            denied_ssr_file.display().to_string(),
            denied_ssr,
        ),
        (
            "employee_number",
            fixture("registration-progressive-oie.json"),
            PP_OIE.to_owned(),
        ),
        (
            "employee_number",
            denied_pp_file.display().to_string(),
            denied_pp,
        ),
    ];
    for (rule, request, body) in cases {
        let output = eval(rule, &request, Some(settings));
        assert!(output.status.success(), "{}", text(&output.stderr));
        let http = server.hook("/hooks/demo", &body).await;
        assert_eq!(text(&output.stdout), http.body, "{rule} on {request}");
        let expected_status = if http.status == 204 {
            "204 No Content"
        } else {
            "200 OK"
        };
        assert!(
            text(&output.stderr).starts_with(expected_status),
            "{}",
            text(&output.stderr)
        );
    }
}

#[test]
fn eval_reads_the_request_from_stdin_and_settings_from_a_file() {
    let settings = write_config(r#"{"allowed_domains": ["example.org"]}"#);
    let settings_arg = format!("@{}", settings.display());
    let rule = rule("email_domain").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args([
            "eval",
            "--rule",
            &rule,
            "--request",
            "-",
            "--settings",
            &settings_arg,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SSR_OIE.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("INVALID_EMAIL_DOMAIN"),
        "example.com is not allowed now"
    );
}

#[test]
fn eval_reports_a_failing_rule_on_stderr_and_exits_non_zero() {
    let output = eval(
        "misbehave",
        &fixture("registration-ssr-oie.json"),
        Some(r#"{"behaviour":"panic"}"#),
    );
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("the rule failed (trap)"), "{stderr}");
    assert!(
        stderr.contains("panicked at") && stderr.contains("the rule panicked"),
        "the guest's panic message is shown: {stderr}"
    );

    let looping = wasmhook(&[
        "eval",
        "--rule",
        &rule("misbehave").display().to_string(),
        "--request",
        &fixture("registration-ssr-oie.json"),
        "--settings",
        r#"{"behaviour":"loop"}"#,
        "--deadline-ms",
        "50",
    ]);
    assert!(!looping.status.success());
    // The fuel burnt up to the deadline, far more than the ~6k spent before the loop (all that
    // was reported before eval kept its fuel count precise).
    let stderr = text(&looping.stderr);
    let fuel: u64 = stderr
        .split("fuel at least ")
        .nth(1)
        .and_then(|rest| rest.split([')', ',']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `fuel at least N` in {stderr}"));
    assert!(fuel > 1_000_000, "{stderr}");
    assert!(
        text(&looping.stderr).contains("deadline of 50 ms exceeded"),
        "{}",
        text(&looping.stderr)
    );
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    // A rule that logs past its budget makes the host warn, through the default text format.
    let output = eval(
        "misbehave",
        &fixture("registration-ssr-oie.json"),
        Some(r#"{"behaviour":"log-flood"}"#),
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("guest log output truncated"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "escape codes in a piped log: {stderr:?}"
    );
}

#[test]
fn eval_rejects_bad_inputs_with_clear_messages() {
    let ssr = fixture("registration-ssr-oie.json");
    let missing_rule = wasmhook(&[
        "eval",
        "--rule",
        "/nonexistent/rule.wasm",
        "--request",
        &ssr,
    ]);
    assert!(!missing_rule.status.success());
    assert!(text(&missing_rule.stderr).contains("cannot read /nonexistent/rule.wasm"));

    let not_wasm = wasmhook(&["eval", "--rule", &ssr, "--request", &ssr]);
    assert!(!not_wasm.status.success());
    assert!(text(&not_wasm.stderr).contains("is not a valid WebAssembly component"));

    let bad_settings = eval("email_domain", &ssr, Some("[1,2]"));
    assert!(text(&bad_settings.stderr).contains("the settings must be a JSON object"));

    // Valid settings, so that the request is what is wrong (settings are checked first, as the
    // server checks them when it loads the route).
    let settings = Some(r#"{"allowed_domains":["example.com"]}"#);
    let token = eval("email_domain", &fixture("token-transform.json"), settings);
    assert!(!token.status.success());
    assert!(
        text(&token.stderr).contains("the request is a `com.okta.oauth2.tokens.transform` call")
    );

    let garbage = eval(
        "email_domain",
        &repo_root().join("Cargo.toml").display().to_string(),
        settings,
    );
    assert!(!garbage.status.success());
    assert!(text(&garbage.stderr).contains("not an Okta hook call"));
}

#[test]
fn check_accepts_the_quickstart() {
    let output = wasmhook(&[
        "check",
        "--config",
        &quickstart_config().display().to_string(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("ok (1 tenants, 4 routes, 4 distinct rule modules)"),
        "{stdout}"
    );
    // Each route with the hook type of its rule.
    for route in [
        "demo: com.okta.user.pre-registration self.service.registration -> registration rule",
        "demo: com.okta.user.pre-registration progressive.profile -> registration rule",
        "demo: com.okta.oauth2.tokens.transform -> token rule",
        "demo: com.okta.saml.tokens.transform -> saml rule",
    ] {
        assert!(stdout.contains(route), "{route} not in\n{stdout}");
    }
}

/// A rule that does not load is reported on one line (wasmtime lists bytes one per line), with a
/// hint for the toolchain mistakes the docs know: a file that is not WebAssembly, a core module
/// that is not a component (a C rule's compiler output before `wasmhook-c component`).
#[test]
fn check_reports_a_load_error_on_one_line_with_a_hint() {
    let quickstart = std::fs::read_to_string(quickstart_config()).unwrap();
    let rules_dir = crate::common::built_rules().display().to_string();
    let absolute = quickstart.replace("../rules/target/wasm32-wasip2/release", &rules_dir);
    let core_module = crate::common::rules_target().join("c/core/email_domain.wasm");
    let cases = [
        (
            quickstart_config().display().to_string(),
            "bad magic number - expected=[ 0x0, 0x61, 0x73, 0x6d, ] actual=[ 0x23,",
            "hint: the file is not WebAssembly",
        ),
        (
            core_module.display().to_string(),
            "attempted to parse a wasm module with a component parser",
            "hint: this is a core WebAssembly module, not a component",
        ),
    ];
    for (rule, error, hint) in cases {
        let toml = absolute.replace(&format!("{rules_dir}/email_domain.wasm"), &rule);
        let file = write_config(&toml);
        let output = wasmhook(&["check", "--config", &file.display().to_string()]);
        assert!(!output.status.success(), "accepted: {rule}");
        let stderr = text(&output.stderr);
        let problem = stderr.lines().find(|line| line.contains(error));
        let problem = problem.unwrap_or_else(|| panic!("{error} not in {stderr}"));
        assert!(
            problem.contains("tenant `demo`: routes[0].rule: ") && problem.contains(hint),
            "{stderr}"
        );
        assert!(
            stderr.lines().all(|line| line.starts_with("error: ")),
            "a problem spans lines: {stderr}"
        );
    }
}

#[test]
fn check_names_the_file_tenant_and_key_of_a_problem() {
    let quickstart = std::fs::read_to_string(quickstart_config()).unwrap();
    let rules_dir = crate::common::built_rules().display().to_string();
    let absolute = quickstart.replace("../rules/target/wasm32-wasip2/release", &rules_dir);
    // A valid component that exports no hook interface: the 8-byte header of an empty component.
    let empty = write_config("");
    std::fs::write(&empty, b"\0asm\x0d\0\x01\0").unwrap();
    let empty_rule = format!("{rules_dir}/email_domain.wasm");
    let cases = [
        (
            absolute.replace("email_domain.wasm", "missing.wasm"),
            "tenant `demo`: routes[0].rule: cannot read",
        ),
        (
            absolute.replace("deadline_ms = 1000", "deadline_ms = 0"),
            "limits.deadline_ms: must be between 1 and 3000",
        ),
        (
            absolute.replace("header = \"authorization\"", "header = \"\""),
            "tenant `demo`: auth.header:",
        ),
        (
            absolute.replace(
                "deadline_ms = 1000",
                "deadline_ms = 1000\nmax_module_kb = 10",
            ),
            "bytes; the limit is 10240",
        ),
        (
            absolute.replace(
                "employee_number.wasm",
                "../../../../examples/quickstart.toml",
            ),
            "tenant `demo`: routes[1].rule:",
        ),
        (
            absolute.replace(&empty_rule, &empty.display().to_string()),
            "it exports none of the hook interfaces (`wasmhook:rule/registration@0.1.0`",
        ),
        (
            absolute.replace("token_claims.wasm", "email_domain.wasm"),
            "tenant `demo`: routes[2].rule: ",
        ),
        (
            absolute.replace("token_claims.wasm", "saml_attributes.wasm"),
            "is a saml rule (it exports `wasmhook:rule/saml@0.1.0`), but the route takes \
             `com.okta.oauth2.tokens.transform` calls, which need a token rule",
        ),
        (
            absolute.replace("[\"Basic YWRtaW46c3VwZXJzZWNyZXQ=\"]", "[\"Basic YWRtaW46c3VwZXJzZWNyZXQ= \"]"),
            "tenant `demo`: auth.secrets: a secret must not start or end with white space",
        ),
        (
            absolute.replace(
                "type = \"header-secret\"\nheader = \"authorization\"\nsecrets = [\"Basic YWRtaW46c3VwZXJzZWNyZXQ=\"]",
                "type = \"oauth2-bearer\"\nissuer = \"https://i\"\naudience = \"a\"\n\
                 jwks_url = \"http://127.0.0.1:1@192.0.2.2:8000/keys\"",
            ),
            "tenant `demo`: auth.jwks_url: must not carry credentials",
        ),
    ];
    for (toml, expected) in cases {
        let file = write_config(&toml);
        let output = wasmhook(&["check", "--config", &file.display().to_string()]);
        assert!(!output.status.success(), "accepted: {expected}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&file.display().to_string()),
            "no file name in: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{stderr}\n  does not contain: {expected}"
        );
    }
}

#[test]
fn check_reports_every_problem_and_reads_the_config_named_by_the_environment() {
    let quickstart = std::fs::read_to_string(quickstart_config()).unwrap();
    let rules_dir = crate::common::built_rules().display().to_string();
    let broken = quickstart
        .replace("../rules/target/wasm32-wasip2/release", &rules_dir)
        .replace("employee_number.wasm", "missing.wasm")
        .replace("token_claims.wasm", "saml_attributes.wasm");
    let file = write_config(&broken);
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .arg("check")
        .env("WASMHOOK_CONFIG", &file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    let (errors, summary): (Vec<&str>, Vec<&str>) = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .partition(|l| !l.contains(" problems in "));
    assert_eq!(errors.len(), 2, "{stderr}");
    assert_eq!(summary.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("tenant `demo`: routes[1].rule: cannot read"),
        "{stderr}"
    );
    assert!(
        errors[1].contains("tenant `demo`: routes[2].rule: ")
            && errors[1].contains("is a saml rule"),
        "{stderr}"
    );
    assert_eq!(
        summary[0],
        format!("error: 2 problems in {}", file.display())
    );
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let server = ServeProcess::start(&quickstart_config(), "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reply = runtime.block_on(crate::common::send(
        server.address,
        "POST",
        "/hooks/demo",
        &[crate::common::AUTH],
        SSR_OIE.into(),
    ));
    assert_eq!(reply.status, 204);
    let answered: serde_json::Value =
        serde_json::from_str(&server.wait_for_line(|line| line.contains("hook answered"))).unwrap();
    assert_eq!(answered["message"], "hook answered");
    assert_eq!(answered["span"]["event_id"], "04Dmt8BcT_aEgM");
    assert_eq!(answered["span"]["decision"], "no-change");
    let line = answered.to_string();
    assert!(
        !line.contains("rosario"),
        "profile values must not be logged"
    );
    assert!(
        !line.contains("YWRtaW46c3VwZXJzZWNyZXQ"),
        "secrets must not be logged"
    );
    server.stop();
}

#[test]
fn sighup_reloads_when_watching_is_off() {
    let dir = std::env::temp_dir().join(format!("wasmhook-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(rule("email_domain"), dir.join("rule.wasm")).unwrap();
    let settings = "{ allowed_domains = [\"example.com\"] }";
    let config = "watch = false\n".to_owned()
        + &crate::common::tenant_toml("t", std::path::Path::new("rule.wasm"), settings, "");
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let server = ServeProcess::start(&dir.join("config.toml"), "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let call = SSR_OIE.replace("@example.com", "@example.org");
    let status = || {
        let headers = [crate::common::AUTH];
        let reply = crate::common::send(
            server.address,
            "POST",
            "/hooks/t",
            &headers,
            call.clone().into(),
        );
        runtime.block_on(reply).status
    };
    assert_eq!(status(), 200, "email-domain denies");

    std::fs::copy(rule("employee_number"), dir.join("rule.wasm")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(status(), 200, "not watching: the old rule still serves");

    server.signal("HUP");
    server.wait_for_line(|line| line.contains("configuration reloaded"));
    assert_eq!(status(), 204, "employee-number now serves");
    server.stop();
}

#[test]
fn corrupt_compile_cache_entries_are_ignored_and_rebuilt() {
    let cache_home = std::env::temp_dir().join(format!("wasmhook-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache_home);
    let eval = || {
        Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args([
                "eval",
                "--rule",
                &rule("email_domain").display().to_string(),
            ])
            .args(["--request", &fixture("registration-ssr-oie.json")])
            .args(["--settings", r#"{"allowed_domains":["example.org"]}"#])
            .env("XDG_CACHE_HOME", &cache_home)
            .output()
            .unwrap()
    };
    let first = eval();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let mut entries = Vec::new();
    let mut folders = vec![cache_home.join("wasmhook")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path)
            } else {
                entries.push(path)
            }
        }
    }
    assert!(!entries.is_empty(), "the compiled rule was cached");
    for entry in &entries {
        std::fs::write(entry, b"not a compiled module").unwrap();
    }
    let second = eval();
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(second.stdout, first.stdout, "same answer after recompiling");
    assert!(text(&first.stdout).contains("INVALID_EMAIL_DOMAIN"));
}

#[test]
fn eval_refuses_a_million_commands_fast() {
    let started = std::time::Instant::now();
    let output = wasmhook(&[
        "eval",
        "--rule",
        &rule("misbehave").display().to_string(),
        "--request",
        &fixture("registration-ssr-oie.json"),
        "--settings",
        r#"{"behaviour":"million-commands"}"#,
        "--max-memory-mb",
        "32",
    ]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("(oversize)"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
