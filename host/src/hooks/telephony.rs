//! The telephony inline hook (`com.okta.telephony.provider`, Identity Engine): Okta hands the
//! delivery of a one-time code by SMS or voice call to the rule, which sends it through its own
//! provider and answers how that went (`com.okta.telephony.action`).
//!
//! The code is the call's secret ([`Request::secrets`]): masked in everything the rule writes and
//! in the answer's fields, and a `debugContext` that repeats it is not sent.
//!
//! Fails open only: when no rule decides, the answer is an `error`, and Okta sends the code through
//! its own providers (as it does for any non-200 answer). Failing closed would leave the user
//! without a code, so the configuration refuses it.

use serde::Deserialize;
use serde_json::json;

use crate::okta::response::{check_size, finish};
use crate::okta::wire::{IfObject, Text, WireRequest};
use crate::okta::{Answer, Envelope, HookCall, Refusal, RequestContext};
use crate::untrusted::redact;

/// `eventType` of the telephony inline hook.
pub const EVENT_TYPE: &str = "com.okta.telephony.provider";

/// The command that reports the delivery.
const TELEPHONY_ACTION: &str = "com.okta.telephony.action";

/// Longest `provider`, `transactionId` or `transactionMetadata` sent: ids and short notes.
const MAX_FIELD_BYTES: usize = 1024;

/// Why Okta sends a code: the hook's `requestType`s, in [`Flow`] order.
pub const REQUEST_TYPES: &[&str] = &[
    "com.okta.user.telephony.pre-enrollment",
    "com.okta.user.telephony.mfa-verification",
    "com.okta.user.telephony.account-unlock",
    "com.okta.user.telephony.password-reset",
];

/// Why Okta sends a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    PreEnrollment,
    MfaVerification,
    AccountUnlock,
    PasswordReset,
}

impl Flow {
    const ALL: [Flow; 4] = [
        Flow::PreEnrollment,
        Flow::MfaVerification,
        Flow::AccountUnlock,
        Flow::PasswordReset,
    ];

    /// The flow of a routed `requestType`.
    pub fn of(request_type: &str) -> Option<Flow> {
        REQUEST_TYPES
            .iter()
            .position(|known| *known == request_type)
            .map(|at| Flow::ALL[at])
    }
}

/// `data.userProfile`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    pub user_id: Option<String>,
    pub login: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// `data.messageProfile`. Its `Debug` form leaves out the code and the template, which holds it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MessageProfile {
    pub phone_number: String,
    pub delivery_channel: String,
    pub otp_code: String,
    pub msg_template: String,
    pub otp_expires: Option<String>,
    pub locale: Option<String>,
}

impl std::fmt::Debug for MessageProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageProfile")
            .field("delivery_channel", &self.delivery_channel)
            .field("otp_expires", &self.otp_expires)
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// A telephony hook request, typed. Its `Debug` form leaves out the raw body, which holds the
/// code.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub flow: Flow,
    pub context: RequestContext,
    pub user_profile: UserProfile,
    pub message_profile: MessageProfile,
    pub settings: String,
    pub raw: String,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("envelope", &self.envelope)
            .field("flow", &self.flow)
            .field("message_profile", &self.message_profile)
            .finish_non_exhaustive()
    }
}

/// How the delivery went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Successful,
    Pending,
    Failed,
}

/// A telephony rule's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: Status,
    pub provider: String,
    pub transaction_id: String,
    pub transaction_metadata: Option<String>,
    pub debug_context: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireData {
    context: IfObject<WireContext>,
    user_profile: IfObject<WireUserProfile>,
    message_profile: IfObject<WireMessageProfile>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireContext {
    request: IfObject<WireRequest>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireUserProfile {
    user_id: Text,
    login: Text,
    first_name: Text,
    last_name: Text,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireMessageProfile {
    phone_number: Text,
    delivery_channel: Text,
    otp_code: Text,
    msg_template: Text,
    otp_expires: Text,
    locale: Text,
}

/// The typed request for a telephony rule of `flow`, with the route's `settings` (JSON text).
/// Okta's samples send the phone number and the code as numbers too: both become text.
pub fn request(call: &HookCall, flow: Flow, settings: &str) -> Request {
    let data: WireData = serde_json::from_str(call.data()).unwrap_or_default();
    let context = data.context.0.unwrap_or_default();
    let user = data.user_profile.0.unwrap_or_default();
    let message = data.message_profile.0.unwrap_or_default();
    Request {
        envelope: call.envelope.clone(),
        flow,
        context: context.request.into(),
        user_profile: UserProfile {
            user_id: user.user_id.0,
            login: user.login.0,
            first_name: user.first_name.0,
            last_name: user.last_name.0,
        },
        message_profile: MessageProfile {
            phone_number: message.phone_number.or_empty(),
            delivery_channel: message.delivery_channel.or_empty(),
            otp_code: message.otp_code.or_empty(),
            msg_template: message.msg_template.or_empty(),
            otp_expires: message.otp_expires.0,
            locale: message.locale.0,
        },
        settings: settings.to_owned(),
        raw: call.raw.clone(),
    }
}

impl Request {
    /// The one-time code, as sent and as JSON writes it (see [`super::secret_forms`]).
    pub fn secrets(&self) -> Vec<String> {
        super::secret_forms(&self.message_profile.otp_code)
    }
}

impl Decision {
    /// Masks `secrets` in the provider's fields and drops a `debugContext` that repeats one;
    /// returns whether it changed anything. The delivery the rule reports stays: refusing it
    /// would make Okta send a second code.
    pub fn withhold(&mut self, secrets: &[String]) -> bool {
        let mut changed = super::withhold(&mut self.debug_context, secrets);
        let fields = [&mut self.provider, &mut self.transaction_id]
            .into_iter()
            .chain(self.transaction_metadata.as_mut());
        for field in fields {
            if let std::borrow::Cow::Owned(masked) = redact(field, secrets) {
                *field = masked;
                changed = true;
            }
        }
        changed
    }
}

/// Renders a telephony decision as one `com.okta.telephony.action`, refusing an empty or overlong
/// `provider` or `transactionId` (Okta would skip the answer and send a second code).
pub fn render(decision: Decision, max_bytes: usize) -> Result<Answer, Refusal> {
    let fields = [
        ("provider", Some(&decision.provider)),
        ("transaction-id", Some(&decision.transaction_id)),
        (
            "transaction-metadata",
            decision.transaction_metadata.as_ref(),
        ),
    ];
    for (name, value) in fields {
        match value {
            Some(value) if value.len() > MAX_FIELD_BYTES => {
                return Err(Refusal::Invalid(format!(
                    "{name} is {} bytes; at most {MAX_FIELD_BYTES}",
                    value.len()
                )));
            }
            Some(value) if value.is_empty() && name != "transaction-metadata" => {
                return Err(Refusal::Invalid(format!("{name} is empty")));
            }
            _ => {}
        }
    }
    check_size(
        decision.provider.len() + decision.transaction_id.len(),
        max_bytes,
    )?;
    let status = match decision.status {
        Status::Successful => "SUCCESSFUL",
        Status::Pending => "PENDING",
        Status::Failed => "FAILED",
    };
    let mut action = json!({
        "status": status,
        "provider": decision.provider,
        "transactionId": decision.transaction_id,
    });
    if let Some(metadata) = decision.transaction_metadata {
        action["transactionMetadata"] = metadata.into();
    }
    let command = json!({"type": TELEPHONY_ACTION, "value": [action]});
    finish(
        vec![command],
        None,
        decision.debug_context,
        false,
        max_bytes,
    )
}

/// The answer when no rule decided: an `error`, so that Okta sends the code through its own
/// providers. The same under either policy: the configuration refuses fail-closed for this hook,
/// and Okta has no answer that withholds the code.
pub fn failure_answer() -> Answer {
    Answer::error("The telephony hook did not send the code.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::MAX_RESPONSE_BYTES;
    use serde_json::Value;

    const TELEPHONY: &str = include_str!("../../../tests/fixtures/okta/telephony.json");

    fn sent() -> Decision {
        Decision {
            status: Status::Successful,
            provider: "EXAMPLE".into(),
            transaction_id: "SM49a8ece2822d44e4adaccd7ed268f954".into(),
            transaction_metadata: Some("Duration=300ms".into()),
            debug_context: None,
        }
    }

    #[test]
    fn parses_the_documented_request() {
        let call = HookCall::parse(TELEPHONY.as_bytes()).unwrap();
        let request = request(&call, Flow::PreEnrollment, "{}");
        let message = &request.message_profile;
        assert_eq!(message.phone_number, "9876543210");
        assert_eq!(message.delivery_channel, "SMS");
        assert_eq!(message.otp_code, "11111");
        assert_eq!(message.msg_template, "(HOOK)Your code is 11111");
        assert_eq!(message.locale.as_deref(), Some("EN-US"));
        assert_eq!(
            request.user_profile.login.as_deref(),
            Some("test.user@example.com")
        );
        assert_eq!(request.secrets(), ["11111"]);
        assert!(!format!("{request:?}").contains("11111"), "{request:?}");
    }

    #[test]
    fn a_code_sent_as_a_number_is_text() {
        let body = TELEPHONY
            .replace(r#""otpCode": "11111""#, r#""otpCode": 11111"#)
            .replace(
                r#""phoneNumber": "9876543210""#,
                r#""phoneNumber": 9876543210"#,
            );
        let call = HookCall::parse(body.as_bytes()).unwrap();
        let request = request(&call, Flow::MfaVerification, "{}");
        assert_eq!(request.message_profile.otp_code, "11111");
        assert_eq!(request.message_profile.phone_number, "9876543210");
    }

    #[test]
    fn every_request_type_has_its_flow() {
        for (request_type, flow) in REQUEST_TYPES.iter().zip(Flow::ALL) {
            assert_eq!(Flow::of(request_type), Some(flow));
        }
        assert_eq!(Flow::of("com.okta.user.telephony.other"), None);
    }

    #[test]
    fn renders_one_action() {
        let answer = render(sent(), MAX_RESPONSE_BYTES).unwrap();
        assert_eq!(answer.label(), "commands");
        let body: Value = serde_json::from_str(answer.body().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"commands": [{"type": "com.okta.telephony.action", "value": [{
                "status": "SUCCESSFUL", "provider": "EXAMPLE",
                "transactionId": "SM49a8ece2822d44e4adaccd7ed268f954",
                "transactionMetadata": "Duration=300ms"}]}]})
        );
    }

    #[test]
    fn refuses_what_okta_would_skip() {
        for broken in [
            Decision {
                provider: String::new(),
                ..sent()
            },
            Decision {
                transaction_id: String::new(),
                ..sent()
            },
            Decision {
                transaction_metadata: Some("x".repeat(MAX_FIELD_BYTES + 1)),
                ..sent()
            },
        ] {
            assert!(matches!(
                render(broken, MAX_RESPONSE_BYTES),
                Err(Refusal::Invalid(_))
            ));
        }
    }

    #[test]
    fn the_code_is_masked_in_the_fields_and_a_debug_context_repeating_it_dropped() {
        let secrets = vec!["11111".to_owned()];
        let mut decision = Decision {
            transaction_id: "tx-11111".into(),
            transaction_metadata: Some("11111".into()),
            debug_context: Some(r#"{"code":11111}"#.into()),
            ..sent()
        };
        assert!(decision.withhold(&secrets));
        assert_eq!(decision.transaction_id, "tx-[redacted]");
        assert_eq!(decision.transaction_metadata.as_deref(), Some("[redacted]"));
        assert_eq!(decision.debug_context, None);
        let mut clean = sent();
        assert!(!clean.withhold(&secrets));
        assert_eq!(clean, sent());
        let mut without_metadata = Decision {
            transaction_metadata: None,
            ..sent()
        };
        assert!(!without_metadata.withhold(&secrets));
        assert_eq!(without_metadata.transaction_metadata, None);
    }

    #[test]
    fn failure_lets_okta_send_the_code() {
        let answer = failure_answer();
        assert!(answer.body().unwrap().contains("errorSummary"));
    }
}
