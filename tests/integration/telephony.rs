//! The telephony hook end to end: the example rule hands the code to an SMS provider (a local
//! stand-in, `upstream.rs`) with the API key the server adds, through the server and through
//! `eval`; the answer is one `com.okta.telephony.action`, or, when the provider cannot take the
//! message, an `error`, so that Okta sends the code itself; and the one-time code never reaches
//! the log or the answer, however the rule tries (`telephony-leaky`).

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::common::{
    Reply, ServeProcess, hook_tenant_toml, rule, rules_target, text, wasmhook, write_config,
};
use crate::upstream::Upstream;

const EVENT_TYPE: &str = "com.okta.telephony.provider";
const FIXTURE: &str = include_str!("../fixtures/okta/telephony.json");
/// A code no other text in a log or an answer contains by chance.
const CODE: &str = "739164";
const API_KEY: &str = "sms-api-key-5f2c9e";

/// The documented request for `request_type`, to `phone` by `channel`, with `CODE`.
fn request(request_type: &str, phone: &str, channel: &str) -> String {
    let mut body: Value = serde_json::from_str(FIXTURE).unwrap();
    body["requestType"] = request_type.into();
    let message = &mut body["data"]["messageProfile"];
    message["phoneNumber"] = phone.into();
    message["deliveryChannel"] = channel.into();
    message["otpCode"] = CODE.into();
    message["msgTemplate"] = format!("Your code is {CODE}").into();
    body.to_string()
}

fn assert_never_shows_the_code(what: &str, text: &str) {
    assert!(!text.contains(CODE), "{what} shows the code: {text}");
}

/// The SMS provider: `201 {"id": "msg-<to>"}`, `202` for `+15550000202`, `500` for
/// `+15550000500`.
fn provider() -> Upstream {
    Upstream::answering(|seen| {
        let Ok(body) = serde_json::from_str::<Value>(&seen.body) else {
            return (400, "not JSON".into());
        };
        let to = body["to"].as_str().unwrap_or("");
        let id = json!({"id": format!("msg-{to}")}).to_string();
        match to {
            "+15550000202" => (202, id),
            "+15550000500" => (500, "{}".into()),
            _ => (201, id),
        }
    })
}

/// The example rule in every language it is written in.
fn example_rules() -> Vec<(&'static str, PathBuf)> {
    vec![
        ("rust", rule("telephony_sms_provider")),
        (
            "python",
            rules_target().join("python/telephony_sms_provider.wasm"),
        ),
        (
            "javascript",
            rules_target().join("javascript/telephony_sms_provider.wasm"),
        ),
    ]
}

/// Route keys granting `provider` and adding its API key from the server's environment
/// (`SMS_API_KEY`, which [`serve`] sets).
fn grant(provider: &Upstream) -> String {
    format!(
        "allowed_outbound_hosts = [\"{origin}\"]\n\
         outbound_credentials = [{{ host = \"{origin}\", header = \"authorization\", \
         prefix = \"Bearer \", from_env = \"SMS_API_KEY\" }}]",
        origin = provider.origin(),
    )
}

fn settings(provider: &Upstream) -> String {
    format!(
        "{{ send_url = \"{}/v1/messages\", provider = \"EXAMPLE\" }}",
        provider.origin()
    )
}

/// A server for tenant `t` running `rule`, with the provider's API key in its environment.
fn serve(rule: &std::path::Path, settings: &str, extra: &str) -> ServeProcess {
    let config = write_config(&hook_tenant_toml("t", EVENT_TYPE, rule, settings, extra));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmhook"));
    command
        .args(["--log-format", "json"])
        .env("SMS_API_KEY", API_KEY);
    ServeProcess::spawn(command, &config, "info")
}

/// What the answer says: `SUCCESSFUL <transactionId>`, …, or `error` (Okta sends the code).
fn outcome(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    outcome_of(&reply.body)
}

fn outcome_of(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap();
    if body.get("error").is_some() {
        return "error".into();
    }
    assert_eq!(body["commands"][0]["type"], "com.okta.telephony.action");
    let action = &body["commands"][0]["value"][0];
    assert_eq!(action["provider"], "EXAMPLE");
    format!(
        "{} {}",
        action["status"].as_str().unwrap(),
        action["transactionId"].as_str().unwrap()
    )
}

const MFA: &str = "com.okta.user.telephony.mfa-verification";

/// (requestType, phone, channel, what the answer says).
const TABLE: &[(&str, &str, &str, &str)] = &[
    (
        "com.okta.user.telephony.pre-enrollment",
        "+15550000100",
        "SMS",
        "SUCCESSFUL msg-+15550000100",
    ),
    (
        MFA,
        "+15550000101",
        "voice call",
        "SUCCESSFUL msg-+15550000101",
    ),
    (
        "com.okta.user.telephony.account-unlock",
        "+15550000102",
        "SMS",
        "SUCCESSFUL msg-+15550000102",
    ),
    (
        "com.okta.user.telephony.password-reset",
        "+15550000103",
        "SMS",
        "SUCCESSFUL msg-+15550000103",
    ),
    (MFA, "+15550000202", "SMS", "PENDING msg-+15550000202"),
    // The provider cannot take it: Okta sends the code through its own providers.
    (MFA, "+15550000500", "SMS", "error"),
];

#[test]
fn the_provider_sends_the_code_through_the_server() {
    let provider = provider();
    for (language, rule) in example_rules() {
        let server = serve(&rule, &settings(&provider), &grant(&provider));
        for (request_type, phone, channel, expected) in TABLE {
            let reply = server.call("t", &request(request_type, phone, channel));
            assert_eq!(
                &outcome(&reply),
                expected,
                "{language}: {request_type} {phone}"
            );
            assert_never_shows_the_code(language, &reply.body);
        }
        let log = server.stop();
        assert!(log.contains("the SMS provider answered 500"), "{log}");
        assert_never_shows_the_code(language, &log);
        assert!(
            !log.contains(API_KEY),
            "{language}: the log shows the API key"
        );
    }
    let sent = provider.seen();
    assert_eq!(sent.len(), TABLE.len() * example_rules().len());
    for message in &sent {
        assert_eq!(message.path, "/v1/messages");
        let authorization = format!("Bearer {API_KEY}");
        assert_eq!(
            message.header("authorization"),
            Some(authorization.as_str())
        );
        let body: Value = serde_json::from_str(&message.body).unwrap();
        // The code goes to the provider, and only there.
        assert_eq!(body["message"], format!("Your code is {CODE}"));
    }
    let channels: Vec<(String, String)> = sent
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_str(&m.body).unwrap();
            (body["to"].to_string(), body["channel"].to_string())
        })
        .collect();
    for (to, channel) in channels {
        let expected = if to == "\"+15550000101\"" {
            "\"voice\""
        } else {
            "\"sms\""
        };
        assert_eq!(channel, expected, "{to}");
    }
}

#[test]
fn the_provider_sends_the_code_through_eval() {
    let provider = provider();
    let settings =
        json!({"send_url": format!("{}/v1/messages", provider.origin()), "provider": "EXAMPLE"})
            .to_string();
    let dir = std::env::temp_dir().join(format!("wasmhook-telephony-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (language, rule) in example_rules() {
        let (request_type, phone, channel, expected) = TABLE[1];
        let file = dir.join(format!("{language}.json"));
        std::fs::write(&file, request(request_type, phone, channel)).unwrap();
        let output = wasmhook(&[
            "eval",
            "--rule",
            &rule.display().to_string(),
            "--request",
            &file.display().to_string(),
            "--settings",
            &settings,
            "--allow-outbound-host",
            &provider.origin(),
        ]);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(output.status.success(), "{language}: {stderr}");
        assert_eq!(outcome_of(&stdout), expected, "{language}");
        assert_never_shows_the_code("eval", &stderr);
    }
}

#[test]
fn an_unknown_or_missing_request_type_lets_okta_send_the_code() {
    let provider = provider();
    let server = serve(
        &rule("telephony_sms_provider"),
        &settings(&provider),
        &grant(&provider),
    );
    let unknown = request("com.okta.user.telephony.other", "+15550000100", "SMS");
    assert_eq!(outcome(&server.call("t", &unknown)), "error");
    let mut missing: Value = serde_json::from_str(&unknown).unwrap();
    missing.as_object_mut().unwrap().remove("requestType");
    assert_eq!(outcome(&server.call("t", &missing.to_string())), "error");
    assert!(provider.seen().is_empty(), "no rule ran");
}

#[test]
fn a_telephony_route_may_not_fail_closed() {
    let toml = hook_tenant_toml(
        "t",
        EVENT_TYPE,
        &rule("telephony_sms_provider"),
        "{ send_url = \"https://sms.example.net/v1/messages\", provider = \"EXAMPLE\" }",
        "on_failure = \"fail-closed\"",
    );
    let output = wasmhook(&[
        "check",
        "--config",
        &write_config(&toml).display().to_string(),
    ]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("fails open only: when the hook fails, Okta sends the code itself"),
        "{stderr}"
    );
}

/// Runs `telephony-leaky` with `leak` and returns the reply and the whole log.
fn leak(how: &str) -> (Reply, String) {
    let settings = format!("{{ leak = \"{how}\" }}");
    let server = serve(&rule("telephony_leaky"), &settings, "");
    let reply = server.call("t", &request(MFA, "+15550000100", "SMS"));
    (reply, server.stop())
}

#[test]
fn a_logged_code_is_masked() {
    let (reply, log) = leak("log");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_never_shows_the_code("the log", &log);
    assert!(log.contains("sending code [redacted]"), "{log}");
}

#[test]
fn a_code_in_the_answer_is_masked_and_the_delivery_kept() {
    let (reply, log) = leak("answer");
    assert_never_shows_the_code("the answer", &reply.body);
    let body = reply.json();
    let action = &body["commands"][0]["value"][0];
    assert_eq!(action["status"], "SUCCESSFUL");
    assert_eq!(action["transactionId"], "tx-[redacted]");
    assert_eq!(action["transactionMetadata"], "code=[redacted]");
    assert!(body.get("debugContext").is_none(), "{body}");
    assert!(log.contains("repeats a secret"), "{log}");
    assert_never_shows_the_code("the log", &log);
}

#[test]
fn an_answer_okta_would_skip_is_refused_and_okta_sends_the_code() {
    let (reply, log) = leak("no-transaction-id");
    assert_eq!(outcome(&reply), "error");
    assert!(log.contains("transaction-id is empty"), "{log}");
    assert!(log.contains(r#""kind":"invalid_output""#), "{log}");
}
