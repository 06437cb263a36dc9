//! Turning a rule's decision into the answer Okta accepts, and answering when there is none.

use serde_json::{Map, Value, json};

use super::{PASSWORD_IMPORT, REGISTRATION};
use crate::runtime::{Attribute, Command, Decision, Flow, HookError, RuleFailure};
use crate::untrusted::GuestText;

/// Okta rejects answers of 256 KB or more.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 - 1;

/// What to send back to Okta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `204 No Content`: proceed unchanged (or the hook type's default action).
    NoChange,
    /// `200` with this JSON body, which lets the operation proceed (with its commands applied).
    Commands(String),
    /// `200` with this JSON body, which refuses the operation (a DENY command or an `error`).
    Deny(String),
}

impl Answer {
    /// A short label for logs and metrics: `no-change`, `commands` or `deny`.
    pub fn label(&self) -> &'static str {
        match self {
            Answer::NoChange => "no-change",
            Answer::Commands(_) => "commands",
            Answer::Deny(_) => "deny",
        }
    }

    /// The JSON body, if the answer has one (`200`).
    pub fn body(&self) -> Option<&str> {
        match self {
            Answer::NoChange => None,
            Answer::Commands(body) | Answer::Deny(body) => Some(body),
        }
    }
}

/// What to answer when a rule fails (trap, deadline, memory, invalid output) or no rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Refuse the operation: a generic denial for registration; the default action (`UNVERIFIED`)
    /// for password import.
    FailClosed,
    /// Let the operation proceed unchanged (`204`).
    FailOpen,
}

impl FailurePolicy {
    /// What Okta itself does when a hook of this type times out: registration and password import
    /// fail closed, every other hook type fails open.
    pub fn default_for(event_type: &str) -> Self {
        match event_type {
            REGISTRATION | PASSWORD_IMPORT => FailurePolicy::FailClosed,
            _ => FailurePolicy::FailOpen,
        }
    }

    /// The answer for a failed or unanswerable call of `event_type`. Carries no detail about the
    /// failure: that goes to the log.
    pub fn answer(self, event_type: &str) -> Answer {
        match (self, event_type) {
            (FailurePolicy::FailClosed, REGISTRATION) => Answer::Deny(
                json!({
                    "commands": [registration_action("DENY")],
                    "error": {"errorSummary": "Registration cannot be completed at this time. Please try again later."},
                })
                .to_string(),
            ),
            // Password import: 204 means "credential stays UNVERIFIED", which is closed. Sending an
            // `error` there has undocumented effects, so it is never sent.
            _ => Answer::NoChange,
        }
    }
}

/// Renders a registration decision as Okta JSON, checking it against what Okta accepts in `flow`.
/// An empty decision is "no change" (`204`), never `200 {}`.
/// `max_bytes` caps the body (a route may set it lower than Okta's limit).
pub fn render_registration(
    decision: Decision,
    flow: Flow,
    max_bytes: usize,
) -> Result<Answer, RuleFailure> {
    let invalid = |message: String| RuleFailure::InvalidDecision(message);
    // Refuse what can never fit before building anything (a decision can be megabytes).
    let at_least = minimum_answer_bytes(&decision);
    if at_least > max_bytes {
        return Err(RuleFailure::Oversize {
            size: at_least,
            limit: max_bytes,
        });
    }
    // Any `error` makes Okta fail the operation, whatever the commands say.
    let denies = decision.error.is_some() || decision.commands.contains(&Command::Deny);
    let mut body = Map::new();
    if !decision.commands.is_empty() {
        let commands = decision
            .commands
            .into_iter()
            .map(|command| registration_command(command, flow))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        body.insert("commands".into(), Value::Array(commands));
    }
    if let Some(error) = decision.error {
        body.insert("error".into(), hook_error(error));
    }
    if let Some(context) = decision.debug_context {
        match serde_json::from_str(&context) {
            Ok(Value::Object(context)) => {
                body.insert("debugContext".into(), Value::Object(context))
            }
            _ => return Err(invalid("debug-context is not a JSON object".into())),
        };
    }
    if body.is_empty() {
        return Ok(Answer::NoChange);
    }
    let body = Value::Object(body).to_string();
    if body.len() > max_bytes {
        return Err(RuleFailure::Oversize {
            size: body.len(),
            limit: max_bytes,
        });
    }
    Ok(if denies {
        Answer::Deny(body)
    } else {
        Answer::Commands(body)
    })
}

/// A lower bound of the size of `decision`'s rendered answer: every command takes at least 50
/// bytes, every attribute its name plus 4 (`"":1`; a value is re-serialised, so its text may
/// shrink), every error cause its strings plus 80. Strings are rendered escaped, never shorter.
fn minimum_answer_bytes(decision: &Decision) -> usize {
    let profile = |attributes: &[Attribute]| -> usize {
        attributes
            .iter()
            .map(|attribute| attribute.name.len() + 4)
            .sum()
    };
    let commands: usize = decision
        .commands
        .iter()
        .map(|command| {
            50 + match command {
                Command::Allow | Command::Deny => 0,
                Command::UpdateProfile(attributes)
                | Command::UpdateProgressiveProfile(attributes) => profile(attributes),
            }
        })
        .sum();
    let error = decision.error.as_ref().map_or(0, |error| {
        let causes: usize = error
            .error_causes
            .iter()
            .map(|c| {
                80 + c.error_summary.len()
                    + c.reason.len()
                    + c.location_type.len()
                    + c.location.len()
                    + c.domain.len()
            })
            .sum();
        error.error_summary.len() + causes
    });
    commands + error
}

fn registration_action(action: &str) -> Value {
    json!({"type": "com.okta.action.update", "value": {"registration": action}})
}

fn registration_command(command: Command, flow: Flow) -> Result<Value, String> {
    Ok(match (command, flow) {
        (Command::Allow, _) => registration_action("ALLOW"),
        (Command::Deny, _) => registration_action("DENY"),
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

/// Most bytes of an attribute name quoted in a failure's message (it is guest text).
const NAME_BYTES: usize = 64;

/// An attribute list as a JSON object in the same order (Okta applies keys in order).
fn attribute_object(attributes: Vec<Attribute>) -> Result<Value, String> {
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

fn hook_error(error: HookError) -> Value {
    let mut object = Map::new();
    object.insert("errorSummary".into(), error.error_summary.into());
    if !error.error_causes.is_empty() {
        let causes = error.error_causes.into_iter().map(|cause| {
            json!({
                "errorSummary": cause.error_summary,
                "reason": cause.reason,
                "locationType": cause.location_type,
                "location": cause.location,
                "domain": cause.domain,
            })
        });
        object.insert("errorCauses".into(), Value::Array(causes.collect()));
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ErrorCause;

    fn render(decision: Decision, flow: Flow) -> Result<Answer, RuleFailure> {
        render_registration(decision, flow, MAX_RESPONSE_BYTES)
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
            assert_eq!(failure.kind(), "invalid_output");
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
            assert!(
                matches!(failure, RuleFailure::InvalidDecision(_)),
                "{failure}"
            );
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
        let failure = render_registration(update, Flow::SelfServiceRegistration, 20).unwrap_err();
        assert!(failure.to_string().contains("the limit is 20"), "{failure}");
    }

    #[test]
    fn registration_fails_closed_with_a_generic_denial() {
        let answer = FailurePolicy::default_for(REGISTRATION).answer(REGISTRATION);
        let body = body(answer);
        assert_eq!(body["commands"][0]["value"]["registration"], "DENY");
        assert!(
            body["error"]["errorSummary"]
                .as_str()
                .unwrap()
                .contains("cannot be completed")
        );
    }

    #[test]
    fn other_hook_types_fail_open_and_password_import_keeps_its_default() {
        let token = "com.okta.oauth2.tokens.transform";
        assert_eq!(FailurePolicy::default_for(token), FailurePolicy::FailOpen);
        assert_eq!(
            FailurePolicy::default_for(token).answer(token),
            Answer::NoChange
        );
        assert_eq!(
            FailurePolicy::default_for(PASSWORD_IMPORT),
            FailurePolicy::FailClosed
        );
        assert_eq!(
            FailurePolicy::FailClosed.answer(PASSWORD_IMPORT),
            Answer::NoChange
        );
        assert_eq!(
            FailurePolicy::FailOpen.answer(REGISTRATION),
            Answer::NoChange
        );
    }
}
