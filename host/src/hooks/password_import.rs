//! The password import inline hook (`com.okta.user.credential.password.import`): a user created
//! with a password hook signs in for the first time, and the rule says whether the password is
//! the one the legacy store has (`com.okta.action.update` `{"credential": "VERIFIED"}`), so that
//! Okta can keep it.
//!
//! The request carries the plaintext password: it is the call's secret ([`Request::secrets`]),
//! masked in everything the rule writes and never sent back in a `debugContext`.
//!
//! Fails closed only: when no rule decides, the answer is `204`, Okta's default `UNVERIFIED`, and
//! the user cannot sign in until the hook answers. Failing open would verify any password, so
//! the configuration refuses it. Okta documents no `error` for this hook, and the decision has
//! none to send.

use serde::Deserialize;
use serde_json::json;

use crate::okta::response::finish;
use crate::okta::wire::{IfObject, Text, WireRequest};
use crate::okta::{Answer, Envelope, HookCall, Refusal, RequestContext};

/// `eventType` of the password import inline hook.
pub const EVENT_TYPE: &str = "com.okta.user.credential.password.import";

/// The command that sets the verdict.
const ACTION_UPDATE: &str = "com.okta.action.update";

/// What the user typed (`data.context.credential`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A password import hook request, typed. Its `Debug` form leaves out the password and the raw
/// body, which holds it too.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub context: RequestContext,
    pub credential: Credential,
    pub settings: String,
    pub raw: String,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("envelope", &self.envelope)
            .field("context", &self.context)
            .field("credential", &self.credential)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Whether the password is right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    Unverified,
}

/// A password import rule's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub debug_context: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireData {
    context: IfObject<WireContext>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireContext {
    request: IfObject<WireRequest>,
    credential: IfObject<WireCredential>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireCredential {
    username: Text,
    password: Text,
}

/// The typed request for a password import rule, with the route's `settings` (JSON text).
pub fn request(call: &HookCall, settings: &str) -> Request {
    let data: WireData = serde_json::from_str(call.data()).unwrap_or_default();
    let context = data.context.0.unwrap_or_default();
    let credential = context.credential.0.unwrap_or_default();
    Request {
        envelope: call.envelope.clone(),
        context: context.request.into(),
        credential: Credential {
            username: credential.username.or_empty(),
            password: credential.password.or_empty(),
        },
        settings: settings.to_owned(),
        raw: call.raw.clone(),
    }
}

impl Request {
    /// The password, as typed and as JSON writes it (see [`super::secret_forms`]).
    pub fn secrets(&self) -> Vec<String> {
        super::secret_forms(&self.credential.password)
    }
}

impl Decision {
    /// Drops the `debugContext` if it repeats one of `secrets`; returns whether it did.
    pub fn withhold(&mut self, secrets: &[String]) -> bool {
        super::withhold(&mut self.debug_context, secrets)
    }
}

/// Renders a password import decision: the verdict, always sent explicitly (`UNVERIFIED` too, so
/// Okta's System Log shows what the rule said), and its `debugContext`. `UNVERIFIED` is labelled a
/// denial: the sign-in fails.
pub fn render(decision: Decision, max_bytes: usize) -> Result<Answer, Refusal> {
    let (credential, denies) = match decision.verdict {
        Verdict::Verified => ("VERIFIED", false),
        Verdict::Unverified => ("UNVERIFIED", true),
    };
    let command = json!({"type": ACTION_UPDATE, "value": {"credential": credential}});
    finish(
        vec![command],
        None,
        decision.debug_context,
        denies,
        max_bytes,
    )
}

/// The answer when no rule decided: `204`, which Okta takes as its default, `UNVERIFIED`. The
/// same under either policy: the configuration refuses fail-open for this hook, and an answer
/// that verified an unchecked password must not exist.
pub fn failure_answer() -> Answer {
    Answer::NoChange
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::MAX_RESPONSE_BYTES;
    use serde_json::Value;

    const PASSWORD_IMPORT: &str = include_str!("../../../tests/fixtures/okta/password-import.json");

    fn body(answer: &Answer) -> Value {
        serde_json::from_str(answer.body().unwrap()).unwrap()
    }

    #[test]
    fn parses_the_documented_request() {
        let call = HookCall::parse(PASSWORD_IMPORT.as_bytes()).unwrap();
        let request = request(&call, "{}");
        assert_eq!(request.credential.username, "isaac.brock@example.com");
        assert_eq!(request.credential.password, "Okta");
        assert_eq!(
            request.context.url.as_deref(),
            Some("/idp/idx/challenge/answer")
        );
        assert_eq!(request.secrets(), ["Okta"]);
        assert!(!format!("{request:?}").contains("Okta\""), "{request:?}");
    }

    #[test]
    fn a_password_is_a_secret_as_typed_and_as_json_writes_it() {
        let call = HookCall::parse(
            PASSWORD_IMPORT
                .replace(r#""password": "Okta""#, r#""password": "a\"b\\c""#)
                .as_bytes(),
        )
        .unwrap();
        let request = request(&call, "{}");
        assert_eq!(request.secrets(), [r#"a"b\c"#, r#"a\"b\\c"#]);
        let empty = HookCall::parse(
            PASSWORD_IMPORT
                .replace(r#""password": "Okta""#, r#""password": """#)
                .as_bytes(),
        )
        .unwrap();
        assert!(super::request(&empty, "{}").secrets().is_empty());
    }

    #[test]
    fn both_verdicts_are_sent_explicitly() {
        let verified = render(
            Decision {
                verdict: Verdict::Verified,
                debug_context: Some(r#"{"store":"ldap"}"#.into()),
            },
            MAX_RESPONSE_BYTES,
        )
        .unwrap();
        assert_eq!(verified.label(), "commands");
        assert_eq!(
            body(&verified),
            json!({"commands": [{"type": "com.okta.action.update", "value": {"credential": "VERIFIED"}}],
                   "debugContext": {"store": "ldap"}})
        );
        let unverified = render(
            Decision {
                verdict: Verdict::Unverified,
                debug_context: None,
            },
            MAX_RESPONSE_BYTES,
        )
        .unwrap();
        assert_eq!(unverified.label(), "deny");
        assert_eq!(
            body(&unverified)["commands"][0]["value"]["credential"],
            "UNVERIFIED"
        );
        assert!(body(&unverified).get("error").is_none());
    }

    #[test]
    fn a_debug_context_repeating_the_password_is_dropped() {
        let secrets = vec!["hunter2".to_owned()];
        let mut decision = Decision {
            verdict: Verdict::Verified,
            debug_context: Some(r#"{"tried":"hunter2"}"#.into()),
        };
        assert!(decision.withhold(&secrets));
        assert_eq!(decision.debug_context, None);
        let mut clean = Decision {
            verdict: Verdict::Verified,
            debug_context: Some(r#"{"store":"ldap"}"#.into()),
        };
        assert!(!clean.withhold(&secrets));
        assert!(clean.debug_context.is_some());
    }

    #[test]
    fn failure_is_okta_default_unverified() {
        assert_eq!(failure_answer(), Answer::NoChange);
    }
}
