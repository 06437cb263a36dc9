//! The SAML assertion inline hook (`com.okta.saml.tokens.transform`): Okta is about to send an
//! assertion to a custom SAML app, and the rule may patch it (`com.okta.assertion.patch`).
//!
//! Fails open: when no rule decides, Okta sends the original assertion (`204`). Fail-closed sends
//! an `error`, so that the SAML request is denied.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::okta::patch::{self, Checked};
use crate::okta::response::{check_size, error_bytes, finish};
use crate::okta::wire::{IfObject, Seconds, Text, Texts, WireRequest, WireSession, WireUser};
use crate::okta::{
    Answer, Envelope, FailurePolicy, HookCall, HookError, PatchOp, PatchOperation, Refusal,
    RequestContext, Session, User,
};

/// `eventType` of the SAML assertion inline hook.
pub const EVENT_TYPE: &str = "com.okta.saml.tokens.transform";

/// The command that patches the assertion.
const ASSERTION_PATCH: &str = "com.okta.assertion.patch";
/// The parts of an assertion a patch may change.
const PATCHABLE: &[&str] = &["subject", "authentication", "conditions", "claims"];

/// One value of an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue {
    pub xsi_type: Option<String>,
    pub value: String,
}

/// An attribute statement (`data.assertion.claims.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub name: String,
    pub name_format: Option<String>,
    pub values: Vec<AttributeValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub name_id: Option<String>,
    pub name_format: Option<String>,
    pub confirmation_method: Option<String>,
    pub recipient: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authentication {
    pub session_index: Option<String>,
    pub authn_context_class_ref: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub audience_restriction: Vec<String>,
}

/// `data.assertion`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assertion {
    pub subject: Subject,
    pub authentication: Authentication,
    pub conditions: Conditions,
    pub claims: Vec<Claim>,
    pub lifetime_seconds: Option<u32>,
}

/// `data.context.protocol.issuer`: the SAML app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issuer {
    pub id: Option<String>,
    pub name: Option<String>,
    pub uri: Option<String>,
}

/// `data.context.protocol`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protocol {
    pub protocol_type: Option<String>,
    pub issuer: Option<Issuer>,
}

/// A SAML assertion hook request, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub context: RequestContext,
    pub protocol: Protocol,
    pub session: Option<Session>,
    pub user: Option<User>,
    pub assertion: Assertion,
    pub settings: String,
    pub raw: String,
}

/// A SAML rule's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub assertion_patch: Vec<PatchOperation>,
    pub error: Option<HookError>,
    pub debug_context: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireSaml {
    context: IfObject<WireContext>,
    assertion: IfObject<WireAssertion>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireContext {
    request: IfObject<WireRequest>,
    protocol: IfObject<WireProtocol>,
    session: IfObject<WireSession>,
    user: IfObject<WireUser>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireProtocol {
    #[serde(rename = "type")]
    kind: Text,
    issuer: IfObject<WireIssuer>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireIssuer {
    id: Text,
    name: Text,
    uri: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireAssertion {
    subject: IfObject<WireSubject>,
    authentication: IfObject<WireAuthentication>,
    conditions: IfObject<WireConditions>,
    claims: IfObject<WireClaims>,
    lifetime: IfObject<WireLifetime>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireSubject {
    name_id: Text,
    name_format: Text,
    confirmation: IfObject<WireConfirmation>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireConfirmation {
    method: Text,
    data: IfObject<WireRecipient>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireRecipient {
    recipient: Text,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireAuthentication {
    session_index: Text,
    authn_context: IfObject<WireAuthnContext>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireAuthnContext {
    authn_context_class_ref: Text,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireConditions {
    audience_restriction: Texts,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireLifetime {
    expiration: Seconds,
}

/// The claims object, in order; a claim that is not an object is skipped.
#[derive(Default)]
struct WireClaims(Vec<Claim>);

impl<'de> Deserialize<'de> for WireClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let claims = crate::okta::wire::Profile::deserialize(deserializer)?;
        Ok(WireClaims(
            claims
                .0
                .into_iter()
                .filter_map(|claim| {
                    let wire: IfObject<WireClaim> = serde_json::from_str(&claim.value).ok()?;
                    let wire = wire.0?;
                    Some(Claim {
                        name: claim.name,
                        name_format: wire.attributes.0.and_then(|a| a.name_format.0),
                        values: wire
                            .attribute_values
                            .0
                            .into_iter()
                            .filter_map(|value| value.0)
                            .map(|value| AttributeValue {
                                xsi_type: value.attributes.0.and_then(|a| a.xsi_type.0),
                                value: value.value.0.unwrap_or_default(),
                            })
                            .collect(),
                    })
                })
                .collect(),
        ))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireClaim {
    attributes: IfObject<WireNameFormat>,
    attribute_values: ListOf<IfObject<WireAttributeValue>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireNameFormat {
    #[serde(rename = "NameFormat")]
    name_format: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireAttributeValue {
    attributes: IfObject<WireXsiType>,
    value: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireXsiType {
    #[serde(rename = "xsi:type")]
    xsi_type: Text,
}

/// A list, or empty when the value is not one.
struct ListOf<T>(Vec<T>);

impl<T> Default for ListOf<T> {
    fn default() -> Self {
        ListOf(Vec::new())
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for ListOf<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(ListOf(serde_json::from_str(raw.get()).unwrap_or_default()))
    }
}

/// The typed request for a SAML rule, with the route's `settings` (JSON text).
pub fn request(call: &HookCall, settings: &str) -> Request {
    let data: WireSaml = serde_json::from_str(call.data()).unwrap_or_default();
    let context = data.context.0.unwrap_or_default();
    let protocol = context.protocol.0.unwrap_or_default();
    let assertion = data.assertion.0.unwrap_or_default();
    let subject = assertion.subject.0.unwrap_or_default();
    let confirmation = subject.confirmation.0.unwrap_or_default();
    let authentication = assertion.authentication.0.unwrap_or_default();
    Request {
        envelope: call.envelope.clone(),
        context: context.request.into(),
        protocol: Protocol {
            protocol_type: protocol.kind.0,
            issuer: protocol.issuer.0.map(|issuer| Issuer {
                id: issuer.id.0,
                name: issuer.name.0,
                uri: issuer.uri.0,
            }),
        },
        session: context.session.0.map(Session::from),
        user: context.user.0.map(User::from),
        assertion: Assertion {
            subject: Subject {
                name_id: subject.name_id.0,
                name_format: subject.name_format.0,
                confirmation_method: confirmation.method.0,
                recipient: confirmation.data.0.and_then(|data| data.recipient.0),
            },
            authentication: Authentication {
                session_index: authentication.session_index.0,
                authn_context_class_ref: authentication
                    .authn_context
                    .0
                    .and_then(|context| context.authn_context_class_ref.0),
            },
            conditions: Conditions {
                audience_restriction: assertion
                    .conditions
                    .0
                    .map(|conditions| conditions.audience_restriction.0)
                    .unwrap_or_default(),
            },
            claims: assertion
                .claims
                .0
                .map(|claims| claims.0)
                .unwrap_or_default(),
            lifetime_seconds: assertion.lifetime.0.and_then(|l| l.expiration.0),
        },
        settings: settings.to_owned(),
        raw: call.raw.clone(),
    }
}

/// Renders a SAML decision, checking it against what Okta accepts.
pub fn render(decision: Decision, max_bytes: usize) -> Result<Answer, Refusal> {
    let at_least = patch::min_command_bytes(ASSERTION_PATCH, &decision.assertion_patch)
        + error_bytes(decision.error.as_ref());
    check_size(at_least, max_bytes)?;
    let mut commands = Vec::new();
    if !decision.assertion_patch.is_empty() {
        let value = patch::render(decision.assertion_patch, assertion_rules)
            .map_err(|why| Refusal::Invalid(format!("assertion-patch: {why}")))?;
        commands.push(json!({"type": ASSERTION_PATCH, "value": value}));
    }
    finish(
        commands,
        decision.error,
        decision.debug_context,
        false,
        max_bytes,
    )
}

/// What Okta accepts in an assertion patch.
fn assertion_rules(op: &Checked) -> Result<(), String> {
    if op.op == PatchOp::Remove {
        return Err("an assertion patch takes `add` and `replace` only".into());
    }
    match op.segments {
        [part, _, ..] if PATCHABLE.contains(&part.as_str()) => {}
        _ => {
            return Err(
                "the path must be under /subject/, /authentication/, /conditions/ or \
                        /claims/"
                    .into(),
            );
        }
    }
    // A whole attribute must have Okta's shape, or Okta drops the patch.
    if let [claims, _] = op.segments
        && claims == "claims"
        && !op.value.is_some_and(is_attribute)
    {
        return Err(
            "an attribute is {\"attributes\": {\"NameFormat\": …}, \"attributeValues\": \
                    [{\"attributes\": {\"xsi:type\": …}, \"value\": …}]}"
                .into(),
        );
    }
    Ok(())
}

/// Whether `value` is an attribute as Okta takes it: an object whose `attributeValues` is a
/// non-empty list of objects that each have a `value`, and whose `attributes`, if present, is an
/// object.
fn is_attribute(value: &Value) -> bool {
    let values = value.get("attributeValues").and_then(Value::as_array);
    let attributes_ok = value.get("attributes").is_none_or(Value::is_object);
    attributes_ok
        && values.is_some_and(|values| {
            !values.is_empty()
                && values
                    .iter()
                    .all(|v| v.is_object() && v.get("value").is_some())
        })
}

/// The answer when no rule decided: `204` (fail-open: Okta sends the original assertion), or an
/// `error`, so that the SAML request is denied (fail-closed).
pub fn failure_answer(policy: FailurePolicy) -> Answer {
    match policy {
        FailurePolicy::FailOpen => Answer::NoChange,
        FailurePolicy::FailClosed => {
            Answer::error("Sign-in cannot be completed at this time. Please try again later.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::MAX_RESPONSE_BYTES;

    const SAML: &str = include_str!("../../../tests/fixtures/okta/saml-transform.json");

    fn op(op: PatchOp, path: &str, value: &str) -> PatchOperation {
        PatchOperation {
            op,
            path: path.into(),
            value: Some(value.into()),
        }
    }

    fn patch(operations: Vec<PatchOperation>) -> Result<Answer, Refusal> {
        let decision = Decision {
            assertion_patch: operations,
            ..Decision::default()
        };
        render(decision, MAX_RESPONSE_BYTES)
    }

    const ATTRIBUTE: &str = r#"{"attributes":{"NameFormat":"urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"},"attributeValues":[{"attributes":{"xsi:type":"xs:string"},"value":"x"}]}"#;

    #[test]
    fn parses_the_documented_request() {
        let call = HookCall::parse(SAML.as_bytes()).unwrap();
        let request = request(&call, "{}");
        assert_eq!(request.protocol.protocol_type.as_deref(), Some("SAML2.0"));
        let issuer = request.protocol.issuer.as_ref().unwrap();
        assert_eq!(issuer.name.as_deref(), Some("SAML 2.0 App"));
        let assertion = &request.assertion;
        assert_eq!(
            assertion.subject.name_id.as_deref(),
            Some("administrator1@example.com")
        );
        assert_eq!(
            assertion.subject.recipient.as_deref(),
            Some("http://www.example.com:7070/saml/sso")
        );
        assert_eq!(
            assertion.authentication.authn_context_class_ref.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
        );
        assert_eq!(
            assertion.conditions.audience_restriction,
            ["urn:example:sp"]
        );
        assert_eq!(assertion.lifetime_seconds, Some(300));
        let names: Vec<_> = assertion.claims.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["extPatientId", "array", "middle", "firstAndLast"]);
        let patient = &assertion.claims[0];
        assert_eq!(
            patient.values,
            [AttributeValue {
                xsi_type: Some("xs:integer".into()),
                value: "4321".into()
            }]
        );
        assert_eq!(assertion.claims[1].values.len(), 3);
        assert!(request.session.is_some() && request.user.is_some());
    }

    #[test]
    fn renders_attributes_and_patches_with_escaped_uri_names() {
        let answer = patch(vec![
            op(
                PatchOp::Add,
                "/claims/http:~1~1example.com~1role",
                ATTRIBUTE,
            ),
            op(
                PatchOp::Replace,
                "/claims/array/attributeValues/1/value",
                "\"y\"",
            ),
            op(PatchOp::Add, "/authentication/sessionLifetime", "300"),
        ])
        .unwrap();
        let body: Value = serde_json::from_str(answer.body().unwrap()).unwrap();
        assert_eq!(body["commands"][0]["type"], "com.okta.assertion.patch");
        assert_eq!(
            body["commands"][0]["value"][0]["path"],
            "/claims/http:~1~1example.com~1role"
        );
        assert_eq!(body["commands"][0]["value"][2]["value"], 300);
    }

    #[test]
    fn an_answer_that_fits_its_limit_exactly_is_sent() {
        // Found by fuzzing: the early size check counted a command that was not sent.
        assert_eq!(render(Decision::default(), 0), Ok(Answer::NoChange));
        let operation = vec![op(PatchOp::Replace, "/subject/nameId", "\"x\"")];
        let size = patch(operation.clone()).unwrap().body().unwrap().len();
        let decision = Decision {
            assertion_patch: operation,
            ..Decision::default()
        };
        assert!(render(decision.clone(), size).is_ok());
        assert!(matches!(
            render(decision, size - 1),
            Err(Refusal::Oversize { .. })
        ));
    }

    #[test]
    fn refuses_what_okta_would_reject() {
        let refused = [
            PatchOperation {
                op: PatchOp::Remove,
                path: "/claims/middle".into(),
                value: None,
            },
            op(PatchOp::Add, "/lifetime/expiration", "600"),
            op(PatchOp::Replace, "/conditions", "{}"),
            op(PatchOp::Add, "/claims/a", "\"x\""),
            op(PatchOp::Add, "/claims/a", r#"{"attributeValues":[]}"#),
            op(
                PatchOp::Add,
                "/claims/a",
                r#"{"attributeValues":[{"v":1}]}"#,
            ),
            op(PatchOp::Add, "/claims/a~3", ATTRIBUTE),
        ];
        for operation in refused {
            let refusal = patch(vec![operation.clone()]);
            assert!(matches!(refusal, Err(Refusal::Invalid(_))), "{operation:?}");
        }
    }

    #[test]
    fn fails_open_unchanged_and_closed_with_an_error() {
        assert_eq!(failure_answer(FailurePolicy::FailOpen), Answer::NoChange);
        let closed = failure_answer(FailurePolicy::FailClosed);
        assert_eq!(closed.label(), "deny");
        assert!(closed.body().unwrap().contains("errorSummary"));
    }
}
