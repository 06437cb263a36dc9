//! Outbound HTTP: a route reaches nothing unless it grants hosts, then only those hosts, only
//! public addresses behind a name, by its deadline, within its caps, with credentials the server
//! adds and never logs. The `outbound-probe` rule sends what its settings list and reports each
//! outcome in `debugContext`; upstreams are local HTTP servers (`upstream.rs`).

use std::time::{Duration, Instant};

use crate::common::{
    SSR_OIE, ServeProcess, assert_fail_closed, fixture, rule, tenant_toml, text, wasmhook,
    write_config,
};
use crate::upstream::Upstream;

/// A server whose tenant `t` runs the probe on `urls`, with `extra` route keys.
fn probe_server(urls: &[String], extra: &str) -> ServeProcess {
    let settings = format!(
        "{{ urls = {urls:?}, follow_redirects = true, authorization = \"Bearer from-the-rule\" }}"
    );
    let config = write_config(&tenant_toml("t", &rule("outbound_probe"), &settings, extra));
    ServeProcess::start(&config, "info")
}

/// Calls the probe once and returns what it saw for each URL.
fn probe(server: &ServeProcess) -> Vec<String> {
    let reply = server.call("t", SSR_OIE);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    body["debugContext"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {}", reply.body))
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn grant(origins: &[String]) -> String {
    format!("allowed_outbound_hosts = {origins:?}")
}

#[test]
fn a_route_without_a_grant_reaches_nothing() {
    let upstream = Upstream::start();
    let server = probe_server(&[format!("{}/x", upstream.origin())], "");
    let results = probe(&server);
    assert!(
        results[0].contains("the route does not grant this origin"),
        "{results:?}"
    );
    assert!(upstream.seen().is_empty(), "the upstream was reached");
    let line = server.wait_for_line(|l| l.contains("outbound request refused"));
    assert!(line.contains("the route grants no outbound host"), "{line}");
}

#[test]
fn a_granted_route_reaches_only_its_hosts_and_no_redirect_leads_elsewhere() {
    let granted = Upstream::start();
    let other = Upstream::start();
    let urls = [
        format!("{}/x?email=isaac.brock%40example.com", granted.origin()),
        format!("{}/y", other.origin()),
        format!("{}/redirect?to={}/z", granted.origin(), other.origin()),
        format!("http://[::1]:{}/x", granted.address.port()),
    ];
    let server = probe_server(&urls, &grant(&[granted.origin()]));
    let results = probe(&server);
    assert_eq!(results[0], "200 hello from upstream");
    assert!(
        results[1].contains("does not grant this origin"),
        "{results:?}"
    );
    assert!(
        results[2].contains("does not grant this origin"),
        "the redirect's target: {results:?}"
    );
    assert!(
        results[3].contains("does not grant this origin"),
        "another address of the same port: {results:?}"
    );
    assert!(
        other.seen().is_empty(),
        "the other host was reached: {:?}",
        other.seen()
    );
    let paths: Vec<String> = granted.seen().into_iter().map(|seen| seen.path).collect();
    assert_eq!(paths[0], "/x?email=isaac.brock%40example.com");
    assert!(paths[1].starts_with("/redirect?to="), "{paths:?}");
    assert_eq!(paths.len(), 2, "{paths:?}");
    // Each request is logged with its origin, status and duration, never its path or query.
    let line = server.wait_for_line(|l| l.contains("\"outbound request\""));
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["host"], granted.origin(), "{line}");
    assert_eq!(event["status"], 200, "{line}");
    assert!(event["duration_ms"].is_u64(), "{line}");
    let log = server.stop();
    assert!(
        !log.contains("isaac.brock"),
        "a query value in the log:\n{log}"
    );
    assert!(!log.contains("/redirect"), "a path in the log:\n{log}");
}

#[test]
fn a_name_that_resolves_to_a_private_address_is_refused() {
    // `localhost` is a name: whatever it resolves to must be public, and 127.0.0.1 is not. A
    // DNS answer pointing a granted name at the metadata endpoint is refused the same way.
    let upstream = Upstream::start();
    let origin = format!("https://localhost:{}", upstream.address.port());
    let server = probe_server(
        &[format!("{origin}/x")],
        &grant(std::slice::from_ref(&origin)),
    );
    let results = probe(&server);
    assert!(
        results[0].contains("resolves to a non-public address"),
        "{results:?}"
    );
    assert!(upstream.seen().is_empty());
    let line = server.wait_for_line(|l| l.contains("outbound request failed"));
    assert!(line.contains("non-public address"), "{line}");
}

#[test]
fn a_slow_upstream_fails_the_call_by_its_deadline() {
    let upstream = Upstream::start();
    let extra = format!(
        "{}\nlimits = {{ deadline_ms = 300 }}",
        grant(&[upstream.origin()])
    );
    let server = probe_server(&[format!("{}/slow", upstream.origin())], &extra);
    let started = Instant::now();
    let reply = server.call("t", SSR_OIE);
    let took = started.elapsed();
    assert_fail_closed(&reply);
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}, not by its 300 ms deadline"
    );
    let line = server.wait_for_line(|l| l.contains("rule failed"));
    assert!(line.contains("\"kind\":\"deadline\""), "{line}");
    assert_eq!(upstream.seen().len(), 1, "the request went out");
}

#[test]
fn requests_per_call_and_response_bytes_are_capped() {
    let upstream = Upstream::start();
    let extra = format!(
        "{}\nlimits = {{ max_outbound_requests = 2, max_outbound_response_kb = 64 }}",
        grant(&[upstream.origin()])
    );
    let urls = ["big", "one", "two"].map(|path| format!("{}/{path}", upstream.origin()));
    let server = probe_server(&urls, &extra);
    let results = probe(&server);
    assert!(
        results[0].contains("larger than the route allows"),
        "{results:?}"
    );
    assert_eq!(results[1], "200 hello from upstream");
    assert!(
        results[2].contains("limits.max_outbound_requests"),
        "{results:?}"
    );
    assert_eq!(upstream.seen().len(), 2, "the third request never left");
}

#[test]
fn credentials_are_added_by_the_server_and_never_logged() {
    let upstream = Upstream::start();
    let key = write_config("s3cr3t-api-key\n");
    let extra = format!(
        "{}\noutbound_credentials = [{{ host = \"{}\", header = \"authorization\", prefix = \"Bearer \", from_file = \"{}\" }}]",
        grant(&[upstream.origin()]),
        upstream.origin(),
        key.display()
    );
    let server = probe_server(&[format!("{}/send", upstream.origin())], &extra);
    assert_eq!(probe(&server)[0], "200 hello from upstream");
    let seen = upstream.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer s3cr3t-api-key"),
        "the server's credential replaces the rule's header"
    );
    assert_eq!(
        (seen[0].path.as_str(), seen[0].body.as_str()),
        ("/send", "")
    );
    let log = server.stop();
    assert!(!log.contains("s3cr3t"), "the credential in the log:\n{log}");
}

#[test]
fn a_grant_the_server_would_not_accept_is_refused_at_load() {
    for (host, why) in [
        ("http://localhost:8081", "`localhost` is a name"),
        (
            "http://sms.example.net",
            "plain http is allowed only to a loopback address",
        ),
        ("https://169.254.169.254", "no rule may reach it"),
    ] {
        let toml = tenant_toml(
            "t",
            &rule("outbound_probe"),
            "{ urls = [] }",
            &grant(&[host.into()]),
        );
        let output = wasmhook(&[
            "check",
            "--config",
            &write_config(&toml).display().to_string(),
        ]);
        assert!(!output.status.success(), "{host} accepted");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("allowed_outbound_hosts[0]") && stderr.contains(why),
            "{host}: {stderr}"
        );
    }
}

#[test]
fn eval_grants_what_the_command_line_allows() {
    let upstream = Upstream::start();
    let settings = format!("{{\"urls\": [\"{}/x\"]}}", upstream.origin());
    let request = fixture("registration-ssr-oie.json");
    let rule_path = rule("outbound_probe").display().to_string();
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--rule",
            &rule_path,
            "--request",
            &request,
            "--settings",
            &settings,
        ];
        args.extend_from_slice(extra);
        let output = wasmhook(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    assert!(eval(&[]).contains("does not grant this origin"));
    assert!(upstream.seen().is_empty());
    let origin = upstream.origin();
    assert!(eval(&["--allow-outbound-host", &origin]).contains("200 hello from upstream"));
    assert_eq!(upstream.seen().len(), 1);
}
