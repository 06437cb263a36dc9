//! The registration inline hook (`com.okta.user.pre-registration`): self-service registration
//! (Identity Engine, and Classic Engine, which sends no `requestType`) and progressive profiling.
//!
//! Fails closed: when no rule decides, the registration or update is denied with a generic error.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::okta::response::{check_size, error_bytes, finish};
use crate::okta::wire::{IfObject, Profile, Text, WireRequest, WireUser, attributes};
use crate::okta::{
    Answer, Attribute, Envelope, FailurePolicy, HookCall, HookError, Refusal, RequestContext, User,
};
use crate::untrusted::GuestText;

/// `eventType` of the registration inline hook.
pub const EVENT_TYPE: &str = "com.okta.user.pre-registration";
/// `requestType` of Identity Engine self-service registration (Classic Engine sends none).
pub const SELF_SERVICE_REGISTRATION: &str = "self.service.registration";
/// `requestType` of Identity Engine progressive profiling.
pub const PROGRESSIVE_PROFILE: &str = "progressive.profile";
/// The request types a route may name.
pub const REQUEST_TYPES: &[&str] = &[SELF_SERVICE_REGISTRATION, PROGRESSIVE_PROFILE];

/// Which registration flow called the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    SelfServiceRegistration,
    ProgressiveProfile,
}

impl Flow {
    /// The flow of a request type as routing normalised it (see
    /// [`HookType::routed_request_type`](super::HookType::routed_request_type)).
    pub fn of(request_type: &str) -> Option<Flow> {
        match request_type {
            SELF_SERVICE_REGISTRATION => Some(Flow::SelfServiceRegistration),
            PROGRESSIVE_PROFILE => Some(Flow::ProgressiveProfile),
            _ => None,
        }
    }
}

/// A registration hook request, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub flow: Flow,
    pub context: RequestContext,
    /// The existing user, on progressive profiling.
    pub user: Option<User>,
    /// `data.userProfile`.
    pub user_profile: Vec<Attribute>,
    /// `data.userProfileUpdate`.
    pub user_profile_update: Vec<Attribute>,
    /// `data.action`.
    pub action: Option<String>,
    pub settings: String,
    pub raw: String,
}

/// One command for Okta, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Allow,
    Deny,
    UpdateProfile(Vec<Attribute>),
    UpdateProgressiveProfile(Vec<Attribute>),
}

/// A registration rule's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub commands: Vec<Command>,
    pub error: Option<HookError>,
    pub debug_context: Option<String>,
}

/// `data` of a registration hook call.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireRegistration {
    context: IfObject<WireContext>,
    user_profile: IfObject<Profile>,
    user_profile_update: IfObject<Profile>,
    action: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireContext {
    request: IfObject<WireRequest>,
    user: IfObject<WireUser>,
}

/// The typed request for a registration rule in `flow`, with the route's `settings` (JSON text).
pub fn request(call: &HookCall, flow: Flow, settings: &str) -> Request {
    // `data` is a JSON object (checked by `HookCall::parse`) and every field is lenient.
    let data: WireRegistration = serde_json::from_str(call.data()).unwrap_or_default();
    let context = data.context.0.unwrap_or_default();
    Request {
        envelope: call.envelope.clone(),
        flow,
        context: context.request.into(),
        user: context.user.0.map(User::from),
        user_profile: attributes(data.user_profile),
        user_profile_update: attributes(data.user_profile_update),
        action: data.action.0,
        settings: settings.to_owned(),
        raw: call.raw.clone(),
    }
}

/// Renders a registration decision as Okta JSON, checking it against what Okta accepts in `flow`.
/// `max_bytes` caps the body (a route may set it lower than Okta's limit).
pub fn render(decision: Decision, flow: Flow, max_bytes: usize) -> Result<Answer, Refusal> {
    check_size(min_answer_bytes(&decision), max_bytes)?;
    let denies = decision.commands.contains(&Command::Deny);
    let commands = decision
        .commands
        .into_iter()
        .map(|command| command_json(command, flow))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Refusal::Invalid)?;
    finish(
        commands,
        decision.error,
        decision.debug_context,
        denies,
        max_bytes,
    )
}

/// The answer when no rule decided: a generic denial (fail-closed), or `204` (fail-open).
pub fn failure_answer(policy: FailurePolicy) -> Answer {
    match policy {
        FailurePolicy::FailClosed => Answer::Deny(
            json!({
                "commands": [action("DENY")],
                "error": {"errorSummary": "Registration cannot be completed at this time. Please try again later."},
            })
            .to_string(),
        ),
        FailurePolicy::FailOpen => Answer::NoChange,
    }
}

/// A lower bound of the size of `decision`'s rendered answer: every command takes at least 50
/// bytes, every attribute its name plus 4 (`"":1`; a value is re-serialised, so its text may
/// shrink). Strings are rendered escaped, never shorter.
fn min_answer_bytes(decision: &Decision) -> usize {
    let commands: usize = decision
        .commands
        .iter()
        .map(|command| {
            50 + match command {
                Command::Allow | Command::Deny => 0,
                Command::UpdateProfile(attributes)
                | Command::UpdateProgressiveProfile(attributes) => {
                    attributes.iter().map(|a| a.name.len() + 4).sum()
                }
            }
        })
        .sum();
    commands + error_bytes(decision.error.as_ref())
}

fn action(action: &str) -> Value {
    json!({"type": "com.okta.action.update", "value": {"registration": action}})
}

fn command_json(command: Command, flow: Flow) -> Result<Value, String> {
    Ok(match (command, flow) {
        (Command::Allow, _) => action("ALLOW"),
        (Command::Deny, _) => action("DENY"),
        (Command::UpdateProfile(attributes), Flow::SelfServiceRegistration) => json!({
            "type": "com.okta.user.profile.update",
            "value": attribute_object(attributes)?,
        }),
        (Command::UpdateProgressiveProfile(attributes), Flow::ProgressiveProfile) => json!({
            "type": "com.okta.user.progressive.profile.update",
            "value": attribute_object(attributes)?,
        }),
        (Command::UpdateProfile(_), Flow::ProgressiveProfile) => {
            return Err("update-profile is only valid on self-service registration".into());
        }
        (Command::UpdateProgressiveProfile(_), Flow::SelfServiceRegistration) => {
            return Err("update-progressive-profile is only valid on progressive profiling".into());
        }
    })
}

/// Most bytes of an attribute name quoted in a refusal (it is guest text).
const NAME_BYTES: usize = 64;

/// An attribute list as a JSON object in the same order (Okta applies keys in order).
pub(super) fn attribute_object(attributes: Vec<Attribute>) -> Result<Value, String> {
    let mut object = Map::new();
    for Attribute { name, value } in attributes {
        let quoted = || GuestText::new(&name, NAME_BYTES);
        if name.is_empty() {
            return Err("a profile update has an attribute with an empty name".into());
        }
        if name == "password" {
            return Err("a profile update cannot set `password`".into());
        }
        let value: Value = serde_json::from_str(&value)
            .map_err(|e| format!("attribute `{}` is not valid JSON: {e}", quoted()))?;
        if object.contains_key(&name) {
            return Err(format!(
                "attribute `{}` is set twice in one command",
                quoted()
            ));
        }
        object.insert(name, value);
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::{ErrorCause, MAX_RESPONSE_BYTES};

    const SSR_OIE: &str = include_str!("../../../tests/fixtures/okta/registration-ssr-oie.json");
    const PP_OIE: &str =
        include_str!("../../../tests/fixtures/okta/registration-progressive-oie.json");
    const SSR_CLASSIC: &str =
        include_str!("../../../tests/fixtures/okta/registration-ssr-classic.json");

    fn render(decision: Decision, flow: Flow) -> Result<Answer, Refusal> {
        super::render(decision, flow, MAX_RESPONSE_BYTES)
    }

    fn decision(commands: Vec<Command>) -> Decision {
        Decision {
            commands,
            error: None,
            debug_context: None,
        }
    }

    fn attr(name: &str, json: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: json.into(),
        }
    }

    fn body(answer: Answer) -> Value {
        serde_json::from_str(answer.body().expect("a JSON answer")).unwrap()
    }

    #[test]
    fn parses_oie_self_service_registration() {
        let call = HookCall::parse(SSR_OIE.as_bytes()).unwrap();
        assert_eq!(call.envelope.event_id, "04Dmt8BcT_aEgM");
        let request = request(&call, Flow::SelfServiceRegistration, "{}");
        assert_eq!(request.context.url.as_deref(), Some("/idp/idx/enroll/new"));
        assert_eq!(request.action.as_deref(), Some("ALLOW"));
        assert_eq!(
            request.user_profile,
            vec![
                attr("firstName", "\"Rosario\""),
                attr("lastName", "\"Jones\""),
                attr("login", "\"rosario.jones@example.com\""),
                attr("email", "\"rosario.jones@example.com\""),
            ],
            "attributes keep Okta's order and their JSON form"
        );
        assert!(request.user.is_none());
        assert_eq!(request.raw, SSR_OIE);
    }

    #[test]
    fn parses_progressive_profile_with_existing_user_and_delta() {
        let call = HookCall::parse(PP_OIE.as_bytes()).unwrap();
        let request = request(&call, Flow::ProgressiveProfile, "{}");
        let user = request.user.expect("data.context.user");
        assert_eq!(user.id.as_deref(), Some("00u48gwcu01WxvNo"));
        assert_eq!(user.profile[0], attr("firstName", "\"Rosario\""));
        assert_eq!(
            request.user_profile_update,
            vec![attr("employeeNumber", "\"1234\"")]
        );
        assert!(request.user_profile.is_empty());
    }

    #[test]
    fn classic_engine_without_request_type_is_self_service_registration() {
        let call = HookCall::parse(SSR_CLASSIC.as_bytes()).unwrap();
        assert_eq!(call.envelope.request_type, None);
        let request = request(&call, Flow::SelfServiceRegistration, "{}");
        assert_eq!(request.action, None, "Classic sends \"action\": null");
    }

    #[test]
    fn accepts_version_fields_as_numbers_and_keeps_number_values() {
        let body = br#"{"eventType":"com.okta.user.pre-registration","eventTypeVersion":1,
            "cloudEventVersion":0.1,"data":{"userProfileUpdate":{"employeeNumber":1234}}}"#;
        let call = HookCall::parse(body).unwrap();
        assert_eq!(call.envelope.event_type_version, "1");
        assert_eq!(call.envelope.cloud_event_version, "0.1");
        let request = request(&call, Flow::ProgressiveProfile, "{}");
        assert_eq!(
            request.user_profile_update,
            vec![attr("employeeNumber", "1234")]
        );
    }

    #[test]
    fn fields_of_unexpected_types_count_as_absent() {
        let body = br#"{"eventType":"com.okta.user.pre-registration","eventId":{"x":1},
            "data":{"context":{"request":"POST","user":{"id":["u"],"profile":7}},
            "userProfile":{"email":"a@example.com","tags":[1, {"b" : null}]},
            "userProfileUpdate":"nope","action":null}}"#;
        let call = HookCall::parse(body).unwrap();
        assert_eq!(call.envelope.event_id, "");
        let request = request(&call, Flow::SelfServiceRegistration, "{}");
        assert_eq!(request.context.method, None);
        let user = request.user.expect("context.user is an object");
        assert_eq!((user.id, user.profile.len()), (None, 0));
        assert_eq!(
            request.user_profile,
            vec![
                attr("email", "\"a@example.com\""),
                attr("tags", r#"[1, {"b" : null}]"#),
            ],
            "values are the JSON text as sent"
        );
        assert!(request.user_profile_update.is_empty());
        assert_eq!(request.action, None);
    }

    #[test]
    fn empty_decision_is_no_change_not_an_empty_object() {
        let answer = render(decision(vec![]), Flow::SelfServiceRegistration).unwrap();
        assert_eq!(answer, Answer::NoChange);
    }

    #[test]
    fn deny_with_cause_matches_okta_reference_shape() {
        let denial = Decision {
            commands: vec![Command::Deny],
            error: Some(HookError {
                error_summary: "Incorrect email address.".into(),
                error_causes: vec![ErrorCause {
                    error_summary: "Only example.com emails can register.".into(),
                    reason: "INVALID_EMAIL_DOMAIN".into(),
                    location_type: "body".into(),
                    location: "data.userProfile.email".into(),
                    domain: "end-user".into(),
                }],
            }),
            debug_context: None,
        };
        let answer = render(denial, Flow::SelfServiceRegistration).unwrap();
        assert_eq!(answer.label(), "deny");
        assert_eq!(
            body(answer),
            json!({
                "commands": [{"type": "com.okta.action.update", "value": {"registration": "DENY"}}],
                "error": {"errorSummary": "Incorrect email address.", "errorCauses": [{
                    "errorSummary": "Only example.com emails can register.", "reason": "INVALID_EMAIL_DOMAIN",
                    "locationType": "body", "location": "data.userProfile.email", "domain": "end-user"}]}
            })
        );
    }

    #[test]
    fn profile_updates_keep_attribute_order_and_json_types() {
        let update = decision(vec![
            Command::Allow,
            Command::UpdateProfile(vec![
                attr("middleName", "\"Danger\""),
                attr("customerId", "12345"),
            ]),
        ]);
        let answer = render(update, Flow::SelfServiceRegistration).unwrap();
        assert_eq!(answer.label(), "commands");
        assert_eq!(
            answer.body().unwrap(),
            r#"{"commands":[{"type":"com.okta.action.update","value":{"registration":"ALLOW"}},{"type":"com.okta.user.profile.update","value":{"middleName":"Danger","customerId":12345}}]}"#
        );
    }

    #[test]
    fn progressive_update_renders_on_progressive_profile() {
        let update = decision(vec![Command::UpdateProgressiveProfile(vec![attr(
            "employeeNumber",
            "\"1234\"",
        )])]);
        let answer = render(update, Flow::ProgressiveProfile).unwrap();
        assert_eq!(answer.label(), "commands");
        assert_eq!(
            body(answer),
            json!({"commands": [{"type": "com.okta.user.progressive.profile.update", "value": {"employeeNumber": "1234"}}]})
        );
    }

    #[test]
    fn rejects_commands_okta_refuses_in_the_flow() {
        let pp_on_ssr = decision(vec![Command::UpdateProgressiveProfile(vec![attr(
            "a", "1",
        )])]);
        let ssr_on_pp = decision(vec![Command::UpdateProfile(vec![attr("a", "1")])]);
        for (decision, flow) in [
            (pp_on_ssr, Flow::SelfServiceRegistration),
            (ssr_on_pp, Flow::ProgressiveProfile),
        ] {
            let failure = render(decision, flow).unwrap_err();
            assert!(matches!(failure, Refusal::Invalid(_)), "{failure}");
        }
    }

    #[test]
    fn rejects_invalid_attributes_and_debug_context() {
        let cases = [
            decision(vec![Command::UpdateProfile(vec![attr(
                "nickName", "not json",
            )])]),
            decision(vec![Command::UpdateProfile(vec![attr(
                "password", "\"x\"",
            )])]),
            decision(vec![Command::UpdateProfile(vec![attr("", "1")])]),
            decision(vec![Command::UpdateProfile(vec![
                attr("a", "1"),
                attr("a", "2"),
            ])]),
            Decision {
                commands: vec![],
                error: None,
                debug_context: Some("[1]".into()),
            },
        ];
        for case in cases {
            let failure = render(case, Flow::SelfServiceRegistration).unwrap_err();
            assert!(matches!(failure, Refusal::Invalid(_)), "{failure}");
        }
    }

    #[test]
    fn numbers_reach_okta_exactly_as_the_rule_wrote_them() {
        // Found by fuzzing: without serde_json's float_roundtrip, this came back one unit off
        // in the last place.
        let update = decision(vec![Command::UpdateProfile(vec![attr(
            "score",
            "2.962018320442506e-304",
        )])]);
        let answer = render(update, Flow::SelfServiceRegistration).unwrap();
        assert!(
            answer.body().unwrap().contains(":2.962018320442506e-304}"),
            "{answer:?}"
        );
    }

    #[test]
    fn rejects_answers_of_256_kb_or_more() {
        let huge = format!("\"{}\"", "x".repeat(MAX_RESPONSE_BYTES));
        let update = decision(vec![Command::UpdateProfile(vec![attr("nickName", &huge)])]);
        let failure = render(update, Flow::SelfServiceRegistration).unwrap_err();
        assert!(failure.to_string().contains("256 KB"), "{failure}");
    }

    #[test]
    fn a_route_may_cap_answers_below_oktas_limit() {
        let update = decision(vec![Command::UpdateProfile(vec![attr(
            "nickName",
            "\"abcdef\"",
        )])]);
        let failure = super::render(update, Flow::SelfServiceRegistration, 20).unwrap_err();
        assert!(failure.to_string().contains("the limit is 20"), "{failure}");
    }

    #[test]
    fn fails_closed_with_a_generic_denial_and_open_with_no_change() {
        let body = body(failure_answer(FailurePolicy::FailClosed));
        assert_eq!(body["commands"][0]["value"]["registration"], "DENY");
        assert!(
            body["error"]["errorSummary"]
                .as_str()
                .unwrap()
                .contains("cannot be completed")
        );
        assert_eq!(failure_answer(FailurePolicy::FailOpen), Answer::NoChange);
    }
}
