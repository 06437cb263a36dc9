//! The pinned quickstart decisions over HTTP, with Okta's documented payloads.

use serde_json::{Value, json};

use crate::common::{PP_OIE, SAML, SSR_CLASSIC, SSR_OIE, TOKEN, TestServer};

const USER_IMPORT: &str = include_str!("../fixtures/okta/user-import.json");

fn with_email(fixture: &str, email: &str) -> String {
    let mut body: Value = serde_json::from_str(fixture).unwrap();
    body["data"]["userProfile"]["email"] = email.into();
    body.to_string()
}

fn with_employee_number(number: Value) -> String {
    let mut body: Value = serde_json::from_str(PP_OIE).unwrap();
    body["data"]["userProfileUpdate"]["employeeNumber"] = number;
    body.to_string()
}

/// Allowed: 204, or 200 with no DENY command and no `error`.
fn assert_allowed(reply: &crate::common::Reply) {
    match reply.status {
        204 => assert!(reply.body.is_empty()),
        200 => {
            let body = reply.json();
            assert!(body.get("error").is_none(), "{body}");
            assert!(!reply.body.contains("\"DENY\""), "{body}");
        }
        other => panic!("expected 200 or 204, got {other}: {}", reply.body),
    }
}

fn assert_denied(reply: &crate::common::Reply, reason: &str, location: &str) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), Some("application/json"));
    let body = reply.json();
    assert_eq!(
        body["commands"],
        json!([{"type": "com.okta.action.update", "value": {"registration": "DENY"}}])
    );
    let cause = &body["error"]["errorCauses"][0];
    for field in [
        "errorSummary",
        "reason",
        "locationType",
        "location",
        "domain",
    ] {
        assert!(
            cause[field].as_str().is_some_and(|v| !v.is_empty()),
            "cause lacks {field}: {body}"
        );
    }
    assert_eq!(cause["reason"], reason);
    assert_eq!(cause["location"], location);
}

#[tokio::test]
async fn self_service_registration_from_the_allowed_domain_is_allowed() {
    let server = TestServer::quickstart().await;
    let reply = server.hook("/hooks/demo", SSR_OIE).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_allowed(&reply);
    let upper_case = server
        .hook("/hooks/demo", &with_email(SSR_OIE, "Rosario@EXAMPLE.com"))
        .await;
    assert_allowed(&upper_case);
}

#[tokio::test]
async fn self_service_registration_from_other_domains_is_denied_at_the_email_field() {
    let server = TestServer::quickstart().await;
    for email in [
        "rosario@example.net",
        "rosario@evilexample.com",
        "rosario@example.com.attacker.net",
        "rosario@sub.example.com",
        "rosario@example.com@evil.net",
        "no-at-sign",
    ] {
        let reply = server
            .hook("/hooks/demo", &with_email(SSR_OIE, email))
            .await;
        assert_denied(&reply, "INVALID_EMAIL_DOMAIN", "data.userProfile.email");
    }
}

#[tokio::test]
async fn classic_engine_registration_without_request_type_uses_the_registration_route() {
    let server = TestServer::quickstart().await;
    assert_allowed(&server.hook("/hooks/demo", SSR_CLASSIC).await);
    let denied = server
        .hook("/hooks/demo", &with_email(SSR_CLASSIC, "john@example.org"))
        .await;
    assert_denied(&denied, "INVALID_EMAIL_DOMAIN", "data.userProfile.email");
}

#[tokio::test]
async fn progressive_profile_with_a_valid_employee_number_updates_the_profile() {
    let server = TestServer::quickstart().await;
    for number in [json!("1234"), json!(1234), json!("0042")] {
        let reply = server
            .hook("/hooks/demo", &with_employee_number(number.clone()))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.content_type(), Some("application/json"));
        let expected = number
            .as_str()
            .map_or_else(|| number.to_string(), str::to_owned);
        assert_eq!(
            reply.json(),
            json!({"commands": [{"type": "com.okta.user.progressive.profile.update",
                                 "value": {"employeeNumber": expected}}]})
        );
    }
}

#[tokio::test]
async fn progressive_profile_with_an_invalid_employee_number_is_denied() {
    let server = TestServer::quickstart().await;
    for number in [
        json!("123"),
        json!("12345"),
        json!("12a4"),
        json!("١٢٣٤"),
        json!(""),
        json!(true),
    ] {
        let reply = server
            .hook("/hooks/demo", &with_employee_number(number))
            .await;
        assert_denied(
            &reply,
            "INVALID_EMPLOYEE_NUMBER",
            "data.userProfile.employeeNumber",
        );
    }
}

#[tokio::test]
async fn unknown_registration_request_type_fails_closed_without_running_a_rule() {
    let server = TestServer::quickstart().await;
    let body = SSR_OIE.replace("self.service.registration", "some.future.flow");
    crate::common::assert_fail_closed(&server.hook("/hooks/demo", &body).await);
}

#[tokio::test]
async fn a_hook_type_with_no_route_gets_its_fail_open_answer() {
    let server = TestServer::quickstart().await;
    let reply = server.hook("/hooks/demo", USER_IMPORT).await;
    assert_eq!(
        reply.status, 204,
        "user import without a rule goes on with Okta's default action"
    );
    let metrics = server.get("/metrics").await.body;
    assert!(
        metrics.contains(r#"wasmhook_unrouted_calls_total{tenant="demo"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_endpoints_answer() {
    let server = TestServer::quickstart().await;
    let health = server.get("/healthz").await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
    let hooks: Vec<_> = ready.json()["tenants"]["demo"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| route["hook"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hooks, ["registration", "registration", "token", "saml"]);
    server.hook("/hooks/demo", SSR_OIE).await;
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type().unwrap().starts_with("text/plain"));
    assert!(
        metrics
            .body
            .contains(r#"wasmhook_hook_answers_total{tenant="demo",answer="no-change"} 1"#),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn token_calls_get_the_configured_claims_in_the_tokens_they_carry() {
    let server = TestServer::quickstart().await;
    let reply = server.hook("/hooks/demo", TOKEN).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"commands": [
            {"type": "com.okta.identity.patch",
             "value": [{"op": "add", "path": "/claims/department", "value": "Engineering"}]},
            {"type": "com.okta.access.patch",
             "value": [{"op": "add", "path": "/claims/tenant", "value": "demo"}]},
        ]})
    );
    // A request that mints no ID token gets no ID token patch.
    let mut access_only: serde_json::Value = serde_json::from_str(TOKEN).unwrap();
    access_only["data"]
        .as_object_mut()
        .unwrap()
        .remove("identity");
    let reply = server.hook("/hooks/demo", &access_only.to_string()).await;
    assert_eq!(
        reply.json(),
        json!({"commands": [{"type": "com.okta.access.patch",
            "value": [{"op": "add", "path": "/claims/tenant", "value": "demo"}]}]})
    );
}

#[tokio::test]
async fn saml_calls_get_the_configured_attributes() {
    let server = TestServer::quickstart().await;
    let reply = server.hook("/hooks/demo", SAML).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"commands": [{"type": "com.okta.assertion.patch", "value": [{
            "op": "add", "path": "/claims/department",
            "value": {"attributes": {"NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"},
                      "attributeValues": [{"attributes": {"xsi:type": "xs:string"}, "value": "Engineering"}]}}]}]})
    );
}
