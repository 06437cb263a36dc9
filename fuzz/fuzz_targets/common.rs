//! Checks shared by the fuzz targets: what a rendered answer must look like, whatever the decision.

use serde_json::{Map, Value};
use wasmhook::okta::response::render_registration;
use wasmhook::okta::{Answer, FailurePolicy, REGISTRATION};
use wasmhook::runtime::{Attribute, Command, Decision, Flow, RuleFailure};

/// Attribute names a profile update may never use.
pub fn forbidden_name(name: &str) -> bool {
    name.is_empty() || name == "password"
}

fn json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// Whether `decision` breaks a rule of what Okta accepts in `flow` (so rendering must fail with
/// `InvalidDecision` unless the size check refuses it first).
pub fn expected_invalid(decision: &Decision, flow: Flow) -> bool {
    let bad_attributes = |attributes: &[Attribute]| {
        attributes.iter().enumerate().any(|(i, a)| {
            forbidden_name(&a.name)
                || json(&a.value).is_none()
                || attributes[..i].iter().any(|b| b.name == a.name)
        })
    };
    let bad_command = decision.commands.iter().any(|command| match (command, flow) {
        (Command::Allow | Command::Deny, _) => false,
        (Command::UpdateProfile(a), Flow::SelfServiceRegistration) => bad_attributes(a),
        (Command::UpdateProgressiveProfile(a), Flow::ProgressiveProfile) => bad_attributes(a),
        _ => true,
    });
    let bad_context = decision
        .debug_context
        .as_deref()
        .is_some_and(|c| !matches!(json(c), Some(Value::Object(_))));
    bad_command || bad_context
}

fn is_empty(decision: &Decision) -> bool {
    decision.commands.is_empty() && decision.error.is_none() && decision.debug_context.is_none()
}

fn expected_attributes(attributes: &[Attribute]) -> Value {
    let mut object = Map::new();
    for a in attributes {
        object.insert(a.name.clone(), json(&a.value).expect("checked valid"));
    }
    Value::Object(object)
}

fn expected_command(command: &Command) -> Value {
    let action = |a: &str| {
        serde_json::json!({"type": "com.okta.action.update", "value": {"registration": a}})
    };
    match command {
        Command::Allow => action("ALLOW"),
        Command::Deny => action("DENY"),
        Command::UpdateProfile(a) => serde_json::json!({
            "type": "com.okta.user.profile.update", "value": expected_attributes(a)}),
        Command::UpdateProgressiveProfile(a) => serde_json::json!({
            "type": "com.okta.user.progressive.profile.update", "value": expected_attributes(a)}),
    }
}

/// The whole body a valid decision must render to.
fn expected_body(decision: &Decision) -> Value {
    let mut body = Map::new();
    if !decision.commands.is_empty() {
        let commands = decision.commands.iter().map(expected_command).collect();
        body.insert("commands".into(), Value::Array(commands));
    }
    if let Some(error) = &decision.error {
        let mut object = Map::new();
        object.insert("errorSummary".into(), error.error_summary.clone().into());
        if !error.error_causes.is_empty() {
            let causes = error.error_causes.iter().map(|c| {
                serde_json::json!({
                    "errorSummary": c.error_summary, "reason": c.reason,
                    "locationType": c.location_type, "location": c.location, "domain": c.domain,
                })
            });
            object.insert("errorCauses".into(), Value::Array(causes.collect()));
        }
        body.insert("error".into(), Value::Object(object));
    }
    if let Some(context) = &decision.debug_context {
        body.insert("debugContext".into(), json(context).expect("checked valid"));
    }
    Value::Object(body)
}

/// Renders `decision` and checks the outcome against everything the decision implies.
pub fn check_render(decision: &Decision, flow: Flow, max_bytes: usize) -> Result<Answer, RuleFailure> {
    let invalid = expected_invalid(decision, flow);
    let result = render_registration(decision.clone(), flow, max_bytes);
    match &result {
        Ok(Answer::NoChange) => {
            assert!(is_empty(decision), "NoChange for a non-empty decision: {decision:?}");
        }
        Ok(answer) => {
            assert!(!is_empty(decision), "a body for an empty decision: {answer:?}");
            assert!(!invalid, "an invalid decision rendered: {decision:?} -> {answer:?}");
            let body = answer.body().expect("Commands and Deny have a body");
            assert!(body.len() <= max_bytes, "{} bytes > limit {max_bytes}", body.len());
            let value: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {body:?}"));
            assert!(value.is_object(), "the answer is not a JSON object: {body}");
            let denies = decision.error.is_some() || decision.commands.contains(&Command::Deny);
            assert_eq!(matches!(answer, Answer::Deny(_)), denies, "deny label: {decision:?}");
            // Compared as text: the order of keys matters to Okta (attributes are applied in
            // order), and serde_json's default float parsing does not always read back the
            // float it wrote (it is off by one ULP for some numbers), so parsed bodies may differ.
            assert_eq!(body, expected_body(decision).to_string(), "rendered body differs");
        }
        Err(RuleFailure::InvalidDecision(message)) => {
            assert!(invalid, "refused a valid decision ({message}): {decision:?}");
        }
        Err(RuleFailure::Oversize { size, limit }) => {
            assert_eq!(*limit, max_bytes);
            assert!(*size > max_bytes, "oversize {size} <= limit {limit}");
            // The early size check must be a lower bound: never refuse what would have fit.
            if let Ok(unlimited) = render_registration(decision.clone(), flow, usize::MAX) {
                let rendered = unlimited.body().map_or(0, str::len);
                assert!(
                    rendered > max_bytes,
                    "refused as >= {size} bytes but renders in {rendered} <= {max_bytes}: {decision:?}"
                );
            }
        }
        Err(other) => panic!("unexpected failure from rendering: {other:?}"),
    }
    if !invalid && result.is_err() && !matches!(result, Err(RuleFailure::Oversize { .. })) {
        panic!("valid decision failed: {result:?}");
    }
    result
}

/// The failure policies' answers for `event_type`.
pub fn check_failure_answers(event_type: &str) {
    let closed = FailurePolicy::FailClosed.answer(event_type);
    if event_type == REGISTRATION {
        let Answer::Deny(body) = &closed else {
            panic!("registration must fail closed with a denial: {closed:?}");
        };
        let value: Value = serde_json::from_str(body).expect("fail-closed answer is JSON");
        assert!(value.is_object());
        assert_eq!(value["commands"][0]["value"]["registration"], "DENY");
        assert!(body.len() <= wasmhook::okta::response::MAX_RESPONSE_BYTES);
    } else {
        assert_eq!(closed, Answer::NoChange, "{event_type:?}");
    }
    assert_eq!(FailurePolicy::FailOpen.answer(event_type), Answer::NoChange);
    // default_for must not panic either, and registration fails closed by default.
    let default = FailurePolicy::default_for(event_type);
    if event_type == REGISTRATION {
        assert_eq!(default, FailurePolicy::FailClosed);
    }
}
