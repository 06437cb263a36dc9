//! The user import inline hook (`com.okta.import.transform`): Okta is importing a user from an
//! app, after mapping and matching and before it creates or links the Okta user, and the rule may
//! change both profiles (`com.okta.appUser.profile.update`, `com.okta.user.profile.update`) and
//! whether the user is created or linked (`com.okta.action.update`, with `com.okta.user.update`
//! naming the user to link to).
//!
//! Fails open: when no rule decides, the import goes on as Okta planned (`204`). Fail-closed
//! sends an `error`, which records this user's import as failed in Okta's System Log. The host
//! refuses `LINK_USER` without a user to link to, and a user to link to without `LINK_USER`, as
//! Okta would.

use serde::Deserialize;
use serde_json::{Value, json};

use super::registration::attribute_object;
use crate::okta::response::{check_size, error_bytes, finish};
use crate::okta::wire::{IfObject, Profile, Text, Texts, attributes};
use crate::okta::{Answer, Attribute, Envelope, FailurePolicy, HookCall, HookError, Refusal};

/// `eventType` of the user import inline hook.
pub const EVENT_TYPE: &str = "com.okta.import.transform";

/// `data.context.application`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Application {
    pub id: Option<String>,
    pub name: Option<String>,
    pub label: Option<String>,
    pub status: Option<String>,
}

/// `data.context.job`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Job {
    pub id: Option<String>,
    pub job_type: Option<String>,
}

/// What Okta does with the imported user (`data.action.result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportResult {
    CreateUser,
    LinkUser,
}

impl ImportResult {
    fn name(self) -> &'static str {
        match self {
            ImportResult::CreateUser => "CREATE_USER",
            ImportResult::LinkUser => "LINK_USER",
        }
    }

    fn of(name: &str) -> Option<ImportResult> {
        match name {
            "CREATE_USER" => Some(ImportResult::CreateUser),
            "LINK_USER" => Some(ImportResult::LinkUser),
            _ => None,
        }
    }
}

/// A user import hook request, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub application: Option<Application>,
    pub job: Option<Job>,
    pub conflicts: Vec<String>,
    pub matches: Vec<String>,
    pub policy: Vec<String>,
    pub planned: Option<ImportResult>,
    pub app_user_profile: Vec<Attribute>,
    pub user_profile: Vec<Attribute>,
    pub user_id: Option<String>,
    pub settings: String,
    pub raw: String,
}

/// A user import rule's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub app_user_profile_update: Vec<Attribute>,
    pub user_profile_update: Vec<Attribute>,
    pub action: Option<ImportResult>,
    pub link_user_id: Option<String>,
    pub error: Option<HookError>,
    pub debug_context: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireData {
    context: IfObject<WireContext>,
    action: IfObject<WireAction>,
    app_user: IfObject<WireProfiled>,
    user: IfObject<WireProfiled>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireContext {
    conflicts: Texts,
    application: IfObject<WireApplication>,
    job: IfObject<WireJob>,
    matches: Matches,
    policy: Texts,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireApplication {
    id: Text,
    name: Text,
    label: Text,
    status: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireJob {
    id: Text,
    #[serde(rename = "type")]
    kind: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireAction {
    result: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireProfiled {
    id: Text,
    profile: IfObject<Profile>,
}

/// `data.context.matches`: user ids, whether Okta sends them as strings or as objects with an
/// `id` (its documentation shows only an empty list); anything else is skipped.
#[derive(Default)]
struct Matches(Vec<String>);

impl<'de> Deserialize<'de> for Matches {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
        let ids = items.iter().filter_map(|item| match item {
            Value::String(id) => Some(id.clone()),
            Value::Object(user) => user.get("id")?.as_str().map(str::to_owned),
            _ => None,
        });
        Ok(Matches(ids.collect()))
    }
}

/// The typed request for a user import rule, with the route's `settings` (JSON text).
pub fn request(call: &HookCall, settings: &str) -> Request {
    let data: WireData = serde_json::from_str(call.data()).unwrap_or_default();
    let context = data.context.0.unwrap_or_default();
    let app_user = data.app_user.0.unwrap_or_default();
    let user = data.user.0.unwrap_or_default();
    Request {
        envelope: call.envelope.clone(),
        application: context.application.0.map(|app| Application {
            id: app.id.0,
            name: app.name.0,
            label: app.label.0,
            status: app.status.0,
        }),
        job: context.job.0.map(|job| Job {
            id: job.id.0,
            job_type: job.kind.0,
        }),
        conflicts: context.conflicts.0,
        matches: context.matches.0,
        policy: context.policy.0,
        planned: data
            .action
            .0
            .and_then(|action| action.result.0)
            .and_then(|result| ImportResult::of(&result)),
        app_user_profile: attributes(app_user.profile),
        user_profile: attributes(user.profile),
        user_id: user.id.0,
        settings: settings.to_owned(),
        raw: call.raw.clone(),
    }
}

/// Renders a user import decision, checking it against what Okta accepts: the profile updates,
/// then the result and the user to link to, in the order Okta applies them.
pub fn render(decision: Decision, max_bytes: usize) -> Result<Answer, Refusal> {
    let attributes = |profile: &[Attribute]| -> usize {
        profile.iter().map(|a| a.name.len() + 4).sum::<usize>() + 50
    };
    check_size(
        attributes(&decision.app_user_profile_update)
            + attributes(&decision.user_profile_update)
            + error_bytes(decision.error.as_ref()),
        max_bytes,
    )?;
    let mut commands = Vec::new();
    for (kind, profile) in [
        (
            "com.okta.appUser.profile.update",
            decision.app_user_profile_update,
        ),
        ("com.okta.user.profile.update", decision.user_profile_update),
    ] {
        if !profile.is_empty() {
            let value = attribute_object(profile).map_err(Refusal::Invalid)?;
            commands.push(json!({"type": kind, "value": value}));
        }
    }
    match (decision.action, decision.link_user_id) {
        (Some(ImportResult::LinkUser), None) => {
            return Err(Refusal::Invalid(
                "LINK_USER needs the id of the Okta user to link to (link-user-id)".into(),
            ));
        }
        (Some(ImportResult::LinkUser), Some(id)) if id.trim().is_empty() => {
            return Err(Refusal::Invalid("link-user-id is empty".into()));
        }
        (Some(ImportResult::LinkUser), Some(id)) => {
            commands.push(result_command(ImportResult::LinkUser));
            commands.push(json!({"type": "com.okta.user.update", "value": {"id": id}}));
        }
        (_, Some(_)) => {
            return Err(Refusal::Invalid(
                "link-user-id is only valid with the result LINK_USER".into(),
            ));
        }
        (Some(ImportResult::CreateUser), None) => {
            commands.push(result_command(ImportResult::CreateUser));
        }
        (None, None) => {}
    }
    finish(
        commands,
        decision.error,
        decision.debug_context,
        false,
        max_bytes,
    )
}

fn result_command(result: ImportResult) -> Value {
    json!({"type": "com.okta.action.update", "value": {"result": result.name()}})
}

/// The answer when no rule decided: `204` (fail-open: the import goes on as planned), or an
/// `error`, which records this user's import as failed (fail-closed).
pub fn failure_answer(policy: FailurePolicy) -> Answer {
    match policy {
        FailurePolicy::FailOpen => Answer::NoChange,
        FailurePolicy::FailClosed => Answer::error("The user could not be imported at this time."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::MAX_RESPONSE_BYTES;

    const USER_IMPORT: &str = include_str!("../../../tests/fixtures/okta/user-import.json");

    fn attr(name: &str, json: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: json.into(),
        }
    }

    fn body(decision: Decision) -> Value {
        let answer = render(decision, MAX_RESPONSE_BYTES).unwrap();
        serde_json::from_str(answer.body().unwrap()).unwrap()
    }

    #[test]
    fn parses_the_documented_request() {
        let call = HookCall::parse(USER_IMPORT.as_bytes()).unwrap();
        let request = request(&call, "{}");
        assert_eq!(request.conflicts, ["login"]);
        assert_eq!(request.policy, ["EMAIL", "FIRST_AND_LAST_NAME"]);
        assert!(request.matches.is_empty());
        assert_eq!(request.planned, Some(ImportResult::CreateUser));
        let app = request.application.unwrap();
        assert_eq!(app.label.as_deref(), Some("Test App"));
        assert_eq!(
            request.job.unwrap().job_type.as_deref(),
            Some("import:users")
        );
        let email = request.app_user_profile.iter().find(|a| a.name == "email");
        assert_eq!(email.unwrap().value, r#""sally.admin@example.net""#);
        assert!(request.user_profile.iter().any(|a| a.name == "login"));
        assert_eq!(request.user_id, None);
    }

    #[test]
    fn matches_are_user_ids_as_strings_or_objects() {
        let body = USER_IMPORT.replace(
            r#""matches": []"#,
            r#""matches": ["00u1", {"id": "00u2"}, 5, {"x": 1}]"#,
        );
        let call = HookCall::parse(body.as_bytes()).unwrap();
        assert_eq!(request(&call, "{}").matches, ["00u1", "00u2"]);
    }

    #[test]
    fn renders_profile_updates_then_the_link() {
        let rendered = body(Decision {
            app_user_profile_update: vec![attr("email", r#""sally@example.net""#)],
            user_profile_update: vec![attr("login", r#""sally@example.net""#)],
            action: Some(ImportResult::LinkUser),
            link_user_id: Some("00u1".into()),
            ..Decision::default()
        });
        assert_eq!(
            rendered,
            json!({"commands": [
                {"type": "com.okta.appUser.profile.update", "value": {"email": "sally@example.net"}},
                {"type": "com.okta.user.profile.update", "value": {"login": "sally@example.net"}},
                {"type": "com.okta.action.update", "value": {"result": "LINK_USER"}},
                {"type": "com.okta.user.update", "value": {"id": "00u1"}},
            ]})
        );
        let create = body(Decision {
            action: Some(ImportResult::CreateUser),
            ..Decision::default()
        });
        assert_eq!(create["commands"][0]["value"]["result"], "CREATE_USER");
        assert_eq!(
            render(Decision::default(), MAX_RESPONSE_BYTES),
            Ok(Answer::NoChange)
        );
    }

    #[test]
    fn refuses_a_link_okta_would_reject() {
        for broken in [
            Decision {
                action: Some(ImportResult::LinkUser),
                ..Decision::default()
            },
            Decision {
                action: Some(ImportResult::LinkUser),
                link_user_id: Some(" ".into()),
                ..Decision::default()
            },
            Decision {
                link_user_id: Some("00u1".into()),
                ..Decision::default()
            },
            Decision {
                action: Some(ImportResult::CreateUser),
                link_user_id: Some("00u1".into()),
                ..Decision::default()
            },
            Decision {
                user_profile_update: vec![attr("login", "not json")],
                ..Decision::default()
            },
        ] {
            assert!(
                matches!(
                    render(broken.clone(), MAX_RESPONSE_BYTES),
                    Err(Refusal::Invalid(_))
                ),
                "{broken:?}"
            );
        }
    }

    #[test]
    fn fails_open_unchanged_and_closed_with_an_error() {
        assert_eq!(failure_answer(FailurePolicy::FailOpen), Answer::NoChange);
        let closed = failure_answer(FailurePolicy::FailClosed);
        assert!(closed.body().unwrap().contains("errorSummary"));
    }
}
