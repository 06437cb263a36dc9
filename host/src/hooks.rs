//! The Okta hook types a rule can handle (the six inline hooks and event hooks), one module each,
//! behind one enum.
//!
//! Each module owns everything particular to its hook: the typed request parsed from Okta's body,
//! the decision a rule returns, the check of that decision against what Okta accepts, its
//! rendering, and the answer when no rule decides (per failure policy). [`HookType`] lists the
//! modules once; the enums here dispatch to them, so the server, `eval` and the runtime handle
//! every hook type alike. Adding a hook type means: a WIT file and world in `wit/`, a module here
//! and its line in [`HookType::ALL`] and the `match`es below, its bindings in `runtime/bindings.rs`,
//! an SDK module per language, its example rules (with their folder prefix in `rules/build.sh`),
//! and its files in `scaffold.rs` (its unit tests say which are missing).
//!
//! A request carrying a secret (a password, a one-time code) names it in [`Request::secrets`]: the
//! sandbox masks it in everything the rule writes, and [`Decision::withhold`] keeps it out of the
//! answer.

pub mod event;
pub mod password_import;
pub mod registration;
pub mod saml;
pub mod telephony;
pub mod token;
pub mod user_import;

use crate::okta::{Answer, FailurePolicy, HookCall, Refusal};
use crate::routing::Unrouted;
use crate::untrusted::GuestText;

/// An Okta inline hook type a rule can handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookType {
    Registration,
    Token,
    Saml,
    PasswordImport,
    Telephony,
    UserImport,
    /// Event hooks: System Log events, acknowledged at once and handled afterwards
    /// ([`crate::events`]); nothing a rule decides goes back to Okta.
    Event,
}

impl HookType {
    /// Every hook type, in the order the documentation lists them.
    pub const ALL: [HookType; 7] = [
        HookType::Registration,
        HookType::Token,
        HookType::Saml,
        HookType::PasswordImport,
        HookType::Telephony,
        HookType::UserImport,
        HookType::Event,
    ];

    /// The inline hook types: Okta waits for the rule's answer.
    pub const INLINE: [HookType; 6] = [
        HookType::Registration,
        HookType::Token,
        HookType::Saml,
        HookType::PasswordImport,
        HookType::Telephony,
        HookType::UserImport,
    ];

    /// The `eventType` Okta sends for this hook.
    pub fn event_type(self) -> &'static str {
        match self {
            HookType::Registration => registration::EVENT_TYPE,
            HookType::Token => token::EVENT_TYPE,
            HookType::Saml => saml::EVENT_TYPE,
            HookType::PasswordImport => password_import::EVENT_TYPE,
            HookType::Telephony => telephony::EVENT_TYPE,
            HookType::UserImport => user_import::EVENT_TYPE,
            HookType::Event => event::EVENT_TYPE,
        }
    }

    /// The hook type of an `eventType`, if rules can handle it.
    pub fn of_event_type(event_type: &str) -> Option<HookType> {
        HookType::ALL
            .into_iter()
            .find(|hook| hook.event_type() == event_type)
    }

    /// The name of the WIT interface a rule for this hook exports (`wasmhook:rule/<name>`), also
    /// used to name the hook in messages.
    pub fn name(self) -> &'static str {
        match self {
            HookType::Registration => "registration",
            HookType::Token => "token",
            HookType::Saml => "saml",
            HookType::PasswordImport => "password-import",
            HookType::Telephony => "telephony",
            HookType::UserImport => "user-import",
            HookType::Event => "event",
        }
    }

    /// The `requestType`s a route of this hook may name; empty when the hook has none.
    pub fn request_types(self) -> &'static [&'static str] {
        match self {
            HookType::Registration => registration::REQUEST_TYPES,
            HookType::Telephony => telephony::REQUEST_TYPES,
            HookType::Token
            | HookType::Saml
            | HookType::PasswordImport
            | HookType::UserImport
            | HookType::Event => &[],
        }
    }

    /// What Okta itself does when this hook fails: registration fails closed (the registration
    /// is denied), token and SAML fail open (the token or assertion is issued unchanged), password
    /// import fails closed (the password is not verified), telephony fails open (Okta sends the
    /// code itself), user import fails open (the import goes on as planned). An event delivery is
    /// acknowledged before any rule runs, so the policy means nothing there.
    pub fn default_policy(self) -> FailurePolicy {
        match self {
            HookType::Registration | HookType::PasswordImport => FailurePolicy::FailClosed,
            HookType::Token
            | HookType::Saml
            | HookType::Telephony
            | HookType::UserImport
            | HookType::Event => FailurePolicy::FailOpen,
        }
    }

    /// Why a route of this hook may not have `policy`, if it may not: failing open on a password
    /// import would verify any password; a failed telephony call always lets Okta send the code.
    pub fn refuses_policy(self, policy: FailurePolicy) -> Option<&'static str> {
        match (self, policy) {
            (HookType::PasswordImport, FailurePolicy::FailOpen) => Some(
                "a password import route fails closed only: failing open would verify any password",
            ),
            (HookType::Telephony, FailurePolicy::FailClosed) => Some(
                "a telephony route fails open only: when the hook fails, Okta sends the code itself",
            ),
            _ => None,
        }
    }

    /// The answer to a call of this hook that no rule decided. Carries no detail about why:
    /// that goes to the log.
    pub fn failure_answer(self, policy: FailurePolicy) -> Answer {
        match self {
            HookType::Registration => registration::failure_answer(policy),
            HookType::Token => token::failure_answer(policy),
            HookType::Saml => saml::failure_answer(policy),
            HookType::PasswordImport => password_import::failure_answer(),
            HookType::Telephony => telephony::failure_answer(),
            HookType::UserImport => user_import::failure_answer(policy),
            HookType::Event => Answer::NoChange,
        }
    }

    /// The request type `call` is routed by. For registration, Classic Engine sends none, which
    /// is self-service registration; telephony calls always carry one. An unknown or malformed
    /// one has no route. Hook types without request types ignore the field.
    pub fn routed_request_type(self, call: &HookCall) -> Result<Option<&str>, Unrouted> {
        if self.request_types().is_empty() {
            return Ok(None);
        }
        if call.request_type_malformed {
            return Err(Unrouted::MalformedRequestType);
        }
        match call.envelope.request_type.as_deref() {
            None if self == HookType::Registration => {
                Ok(Some(registration::SELF_SERVICE_REGISTRATION))
            }
            None => Err(Unrouted::MissingRequestType),
            Some(known) if self.request_types().contains(&known) => Ok(Some(known)),
            Some(other) => Err(Unrouted::UnknownRequestType(GuestText::new(other, 64))),
        }
    }

    /// The typed request a rule for this hook receives for `call`, with its route's `settings`.
    pub fn request(self, call: &HookCall, settings: &str) -> Result<Request, Unrouted> {
        Ok(match self {
            HookType::Registration => {
                let request_type = self.routed_request_type(call)?;
                let flow = request_type
                    .and_then(registration::Flow::of)
                    .ok_or(Unrouted::NoRoute)?;
                Request::Registration(registration::request(call, flow, settings))
            }
            HookType::Token => Request::Token(token::request(call, settings)),
            HookType::Saml => Request::Saml(saml::request(call, settings)),
            HookType::PasswordImport => {
                Request::PasswordImport(password_import::request(call, settings))
            }
            HookType::Telephony => {
                let flow = self
                    .routed_request_type(call)?
                    .and_then(telephony::Flow::of)
                    .ok_or(Unrouted::NoRoute)?;
                Request::Telephony(telephony::request(call, flow, settings))
            }
            HookType::UserImport => Request::UserImport(user_import::request(call, settings)),
            // A delivery holds several events, each handled on its own ([`crate::events`]).
            HookType::Event => return Err(Unrouted::NoRoute),
        })
    }
}

impl std::fmt::Display for HookType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The answer Okta gets for a call of `event_type` that no rule decided: the route's failure
/// `policy` when a route took the call, else the hook type's default. An event type no rule can
/// handle is answered `204`, Okta's "no change" (or default action). Used by the server and by
/// `eval`, so both answer alike.
pub fn failure_answer(event_type: &str, policy: Option<FailurePolicy>) -> Answer {
    match HookType::of_event_type(event_type) {
        Some(hook) => hook.failure_answer(policy.unwrap_or(hook.default_policy())),
        None => Answer::NoChange,
    }
}

/// A typed request, for the rule of its hook type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Registration(registration::Request),
    Token(token::Request),
    Saml(saml::Request),
    PasswordImport(password_import::Request),
    Telephony(telephony::Request),
    UserImport(user_import::Request),
    Event(event::Request),
}

/// A rule's decision, of its hook type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Registration(registration::Decision),
    Token(token::Decision),
    Saml(saml::Decision),
    PasswordImport(password_import::Decision),
    Telephony(telephony::Decision),
    UserImport(user_import::Decision),
    Event(event::Decision),
}

/// What a request asked for that its decision is checked against: the registration flow, the
/// tokens being minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Registration(registration::Flow),
    Token(token::Tokens),
    Saml,
    PasswordImport,
    Telephony,
    UserImport,
    Event,
}

impl Request {
    pub fn hook(&self) -> HookType {
        match self {
            Request::Registration(_) => HookType::Registration,
            Request::Token(_) => HookType::Token,
            Request::Saml(_) => HookType::Saml,
            Request::PasswordImport(_) => HookType::PasswordImport,
            Request::Telephony(_) => HookType::Telephony,
            Request::UserImport(_) => HookType::UserImport,
            Request::Event(_) => HookType::Event,
        }
    }

    /// Values of the request that no text the rule writes may repeat (its log lines, its `err`
    /// message, its stderr): the password of a password import, the one-time code of a
    /// telephony call. The sandbox masks them.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Request::Registration(_)
            | Request::Token(_)
            | Request::Saml(_)
            | Request::UserImport(_)
            | Request::Event(_) => Vec::new(),
            Request::PasswordImport(request) => request.secrets(),
            Request::Telephony(request) => request.secrets(),
        }
    }

    pub fn asked(&self) -> Asked {
        match self {
            Request::Registration(request) => Asked::Registration(request.flow),
            Request::Token(request) => Asked::Token(request.tokens()),
            Request::Saml(_) => Asked::Saml,
            Request::PasswordImport(_) => Asked::PasswordImport,
            Request::Telephony(_) => Asked::Telephony,
            Request::UserImport(_) => Asked::UserImport,
            Request::Event(_) => Asked::Event,
        }
    }
}

impl Decision {
    /// Masks or drops what the decision would send to Okta that repeats one of the call's
    /// `secrets`, where the rule's answer can carry free text (a `debugContext`, a telephony
    /// provider's fields); returns whether anything changed. The sandbox masks secrets in what the
    /// rule logs; this keeps them out of Okta's System Log.
    pub fn withhold(&mut self, secrets: &[String]) -> bool {
        match self {
            Decision::PasswordImport(decision) => decision.withhold(secrets),
            Decision::Telephony(decision) => decision.withhold(secrets),
            Decision::Registration(_)
            | Decision::Token(_)
            | Decision::Saml(_)
            | Decision::UserImport(_)
            | Decision::Event(_) => false,
        }
    }
}

/// A secret as it is and as it is written inside a JSON string (where `"`, `\\` and control
/// characters are escaped), so that a rule that logs the raw body is masked too; none for an
/// empty value.
pub fn secret_forms(secret: &str) -> Vec<String> {
    if secret.is_empty() {
        return Vec::new();
    }
    let quoted = serde_json::to_string(secret).expect("a string serialises");
    let escaped = &quoted[1..quoted.len() - 1];
    let mut forms = vec![secret.to_owned()];
    if escaped != secret {
        forms.push(escaped.to_owned());
    }
    forms
}

/// Drops `debug_context` if it repeats one of `secrets` (masking inside JSON could break it);
/// returns whether it did.
fn withhold(debug_context: &mut Option<String>, secrets: &[String]) -> bool {
    let repeats = debug_context
        .as_ref()
        .is_some_and(|context| secrets.iter().any(|s| context.contains(s.as_str())));
    if repeats {
        *debug_context = None;
    }
    repeats
}

/// Renders `decision` as Okta's answer to a request that `asked`, refusing what Okta would
/// reject or what exceeds `max_bytes`.
pub fn render(decision: Decision, asked: Asked, max_bytes: usize) -> Result<Answer, Refusal> {
    match (decision, asked) {
        (Decision::Registration(d), Asked::Registration(flow)) => {
            registration::render(d, flow, max_bytes)
        }
        (Decision::Token(d), Asked::Token(tokens)) => token::render(d, tokens, max_bytes),
        (Decision::Saml(d), Asked::Saml) => saml::render(d, max_bytes),
        (Decision::PasswordImport(d), Asked::PasswordImport) => {
            password_import::render(d, max_bytes)
        }
        (Decision::Telephony(d), Asked::Telephony) => telephony::render(d, max_bytes),
        (Decision::UserImport(d), Asked::UserImport) => user_import::render(d, max_bytes),
        // Okta gets its answer when the delivery is queued, before any event rule runs.
        (Decision::Event(_), Asked::Event) => Ok(Answer::NoChange),
        _ => Err(Refusal::Invalid(
            "the decision is for another hook type than the call".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: &str) -> HookCall {
        HookCall::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn every_hook_type_is_found_by_its_event_type_and_has_its_own_failure_answers() {
        for hook in HookType::ALL {
            assert_eq!(HookType::of_event_type(hook.event_type()), Some(hook));
        }
        assert_eq!(HookType::of_event_type("com.okta.example.unknown"), None);
        // Fail-closed means something different for each hook; it is never a silent 204, except
        // for password import, where 204 is Okta's own `UNVERIFIED`. Telephony has one answer.
        for hook in HookType::INLINE {
            let closed = hook.failure_answer(FailurePolicy::FailClosed);
            if hook == HookType::PasswordImport {
                assert_eq!(closed, Answer::NoChange);
                continue;
            }
            if hook == HookType::Telephony {
                continue;
            }
            assert_eq!(closed.label(), "deny", "{hook}");
            assert!(closed.body().unwrap().contains("errorSummary"), "{hook}");
            assert_eq!(
                hook.failure_answer(FailurePolicy::FailOpen),
                Answer::NoChange
            );
        }
        assert_eq!(
            HookType::Registration.default_policy(),
            FailurePolicy::FailClosed
        );
        assert_eq!(HookType::Token.default_policy(), FailurePolicy::FailOpen);
        assert_eq!(HookType::Saml.default_policy(), FailurePolicy::FailOpen);
    }

    #[test]
    fn a_failed_telephony_call_always_lets_okta_send_the_code() {
        let hook = HookType::Telephony;
        assert_eq!(hook.default_policy(), FailurePolicy::FailOpen);
        assert!(hook.refuses_policy(FailurePolicy::FailClosed).is_some());
        assert!(hook.refuses_policy(FailurePolicy::FailOpen).is_none());
        // Okta sends the code itself on an `error`; there is no answer that withholds it.
        for policy in [FailurePolicy::FailOpen, FailurePolicy::FailClosed] {
            let answer = hook.failure_answer(policy);
            assert!(
                answer.body().unwrap().contains("errorSummary"),
                "{policy:?}"
            );
        }
    }

    #[test]
    fn telephony_is_routed_by_request_type_and_needs_one() {
        let tel = |request_type: &str| {
            call(&format!(
                r#"{{"eventType":"com.okta.telephony.provider"{request_type},"data":{{}}}}"#
            ))
        };
        let hook = HookType::Telephony;
        assert_eq!(
            hook.routed_request_type(&tel(
                r#","requestType":"com.okta.user.telephony.mfa-verification""#
            )),
            Ok(Some("com.okta.user.telephony.mfa-verification"))
        );
        assert_eq!(
            hook.routed_request_type(&tel("")),
            Err(Unrouted::MissingRequestType)
        );
        assert!(matches!(
            hook.routed_request_type(&tel(r#","requestType":"x""#)),
            Err(Unrouted::UnknownRequestType(_))
        ));
    }

    #[test]
    fn a_password_import_never_verifies_on_failure() {
        let hook = HookType::PasswordImport;
        assert_eq!(hook.default_policy(), FailurePolicy::FailClosed);
        assert!(hook.refuses_policy(FailurePolicy::FailOpen).is_some());
        assert!(hook.refuses_policy(FailurePolicy::FailClosed).is_none());
        // Even if a fail-open route existed, its answer would not verify.
        assert_eq!(
            hook.failure_answer(FailurePolicy::FailOpen),
            Answer::NoChange
        );
        for hook in [HookType::Registration, HookType::Token, HookType::Saml] {
            assert!(hook.refuses_policy(FailurePolicy::FailOpen).is_none());
            assert!(hook.refuses_policy(FailurePolicy::FailClosed).is_none());
        }
    }

    #[test]
    fn the_failure_answer_takes_the_routes_policy_over_the_hooks_default() {
        let token = token::EVENT_TYPE;
        assert_eq!(failure_answer(token, None), Answer::NoChange);
        assert_eq!(
            failure_answer(token, Some(FailurePolicy::FailClosed)).label(),
            "deny"
        );
        assert_eq!(
            failure_answer(registration::EVENT_TYPE, None).label(),
            "deny"
        );
        assert_eq!(
            failure_answer("com.okta.example.unknown", None),
            Answer::NoChange
        );
    }

    #[test]
    fn registration_is_routed_by_request_type_and_classic_engine_is_self_service() {
        let reg = |request_type: &str| {
            call(&format!(
                r#"{{"eventType":"com.okta.user.pre-registration"{request_type},"data":{{}}}}"#
            ))
        };
        let hook = HookType::Registration;
        assert_eq!(
            hook.routed_request_type(&reg("")),
            Ok(Some(registration::SELF_SERVICE_REGISTRATION))
        );
        assert_eq!(
            hook.routed_request_type(&reg(r#","requestType":null"#)),
            Ok(Some(registration::SELF_SERVICE_REGISTRATION))
        );
        assert_eq!(
            hook.routed_request_type(&reg(r#","requestType":"progressive.profile""#)),
            Ok(Some(registration::PROGRESSIVE_PROFILE))
        );
        assert!(matches!(
            hook.routed_request_type(&reg(r#","requestType":"x.y""#)),
            Err(Unrouted::UnknownRequestType(_))
        ));
        for malformed in ["{}", "5", "[\"self.service.registration\"]", "true"] {
            let call = reg(&format!(r#","requestType":{malformed}"#));
            assert_eq!(
                hook.routed_request_type(&call),
                Err(Unrouted::MalformedRequestType),
                "{malformed}"
            );
        }
        // Hooks without request types ignore the field.
        let token =
            call(r#"{"eventType":"com.okta.oauth2.tokens.transform","requestType":"x","data":{}}"#);
        assert_eq!(HookType::Token.routed_request_type(&token), Ok(None));
    }

    #[test]
    fn a_decision_of_another_hook_type_is_refused() {
        let decision = Decision::Saml(saml::Decision::default());
        let refused = render(
            decision,
            Asked::Token(token::Tokens {
                identity: true,
                access: true,
            }),
            1000,
        );
        assert!(matches!(refused, Err(Refusal::Invalid(_))));
    }
}
