//! Parsing an Okta hook request into the typed request a rule receives.

use serde_json::{Map, Value};

use super::{PROGRESSIVE_PROFILE, REGISTRATION, SELF_SERVICE_REGISTRATION};
use crate::runtime::{
    Attribute, Envelope, ExistingUser, Flow, RegistrationRequest, RequestContext,
};

/// Why a request body is not an Okta hook call (answered with 400).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not valid JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("`eventType` is missing or not a string")]
    MissingEventType,
    #[error("`data` is missing or not an object")]
    MissingData,
}

/// A structurally valid hook call: the envelope, the `data` object and the raw body.
#[derive(Debug, Clone)]
pub struct HookCall {
    pub envelope: Envelope,
    pub data: Map<String, Value>,
    /// The body exactly as received (valid UTF-8 JSON).
    pub raw: String,
}

impl HookCall {
    /// Parses a request body. Unknown fields are ignored; version fields may be strings or numbers.
    pub fn parse(body: &[u8]) -> Result<HookCall, ParseError> {
        let value: Value = serde_json::from_slice(body)?;
        let Value::Object(mut root) = value else {
            return Err(ParseError::NotAnObject);
        };
        let Some(Value::String(event_type)) = root.remove("eventType") else {
            return Err(ParseError::MissingEventType);
        };
        let Some(Value::Object(data)) = root.remove("data") else {
            return Err(ParseError::MissingData);
        };
        let field = |name: &str| text(root.get(name)).unwrap_or_default();
        let envelope = Envelope {
            event_id: field("eventId"),
            event_time: field("eventTime"),
            event_type,
            event_type_version: field("eventTypeVersion"),
            content_type: field("contentType"),
            cloud_event_version: field("cloudEventVersion"),
            source: field("source"),
            request_type: text(root.get("requestType")),
        };
        // `from_slice` succeeded, so the body is valid UTF-8.
        let raw = String::from_utf8_lossy(body).into_owned();
        Ok(HookCall {
            envelope,
            data,
            raw,
        })
    }

    /// The registration flow of a registration hook call: absent `requestType` is Classic Engine
    /// self-service registration. `None` for other hook types and for unknown request types.
    pub fn registration_flow(&self) -> Option<Flow> {
        if self.envelope.event_type != REGISTRATION {
            return None;
        }
        match self.envelope.request_type.as_deref() {
            None | Some(SELF_SERVICE_REGISTRATION) => Some(Flow::SelfServiceRegistration),
            Some(PROGRESSIVE_PROFILE) => Some(Flow::ProgressiveProfile),
            Some(_) => None,
        }
    }

    /// The typed request for a registration rule, with the route's `settings` (JSON text).
    pub fn registration_request(&self, flow: Flow, settings: &str) -> RegistrationRequest {
        let context = self.data.get("context");
        let request = context.and_then(|c| c.get("request"));
        let user = context
            .and_then(|c| c.get("user"))
            .and_then(Value::as_object);
        RegistrationRequest {
            envelope: self.envelope.clone(),
            flow,
            context: RequestContext {
                id: text(request.and_then(|r| r.get("id"))),
                method: text(request.and_then(|r| r.get("method"))),
                ip_address: text(request.and_then(|r| r.get("ipAddress"))),
                url: text(
                    request
                        .and_then(|r| r.get("url"))
                        .and_then(|u| u.get("value")),
                ),
            },
            user: user.map(|user| ExistingUser {
                id: text(user.get("id")),
                password_changed: text(user.get("passwordChanged")),
                profile: profile(user.get("profile")),
            }),
            user_profile: profile(self.data.get("userProfile")),
            user_profile_update: profile(self.data.get("userProfileUpdate")),
            action: text(self.data.get("action")),
            settings: settings.to_owned(),
            raw: self.raw.clone(),
        }
    }
}

/// A scalar as text: strings as they are, numbers and booleans in JSON form, `null` as absent.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A profile object as an ordered attribute list with lossless JSON values.
fn profile(value: Option<&Value>) -> Vec<Attribute> {
    let Some(Value::Object(attributes)) = value else {
        return Vec::new();
    };
    attributes
        .iter()
        .map(|(name, value)| Attribute {
            name: name.clone(),
            value: value.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSR_OIE: &str = include_str!("../../../tests/fixtures/okta/registration-ssr-oie.json");
    const PP_OIE: &str =
        include_str!("../../../tests/fixtures/okta/registration-progressive-oie.json");
    const SSR_CLASSIC: &str =
        include_str!("../../../tests/fixtures/okta/registration-ssr-classic.json");

    fn attr(name: &str, json: &str) -> Attribute {
        Attribute {
            name: name.into(),
            value: json.into(),
        }
    }

    #[test]
    fn parses_oie_self_service_registration() {
        let call = HookCall::parse(SSR_OIE.as_bytes()).unwrap();
        assert_eq!(call.envelope.event_id, "04Dmt8BcT_aEgM");
        assert_eq!(
            call.registration_flow(),
            Some(Flow::SelfServiceRegistration)
        );
        let request = call.registration_request(Flow::SelfServiceRegistration, "{}");
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
        assert_eq!(call.registration_flow(), Some(Flow::ProgressiveProfile));
        let request = call.registration_request(Flow::ProgressiveProfile, "{}");
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
        assert_eq!(
            call.registration_flow(),
            Some(Flow::SelfServiceRegistration)
        );
        let request = call.registration_request(Flow::SelfServiceRegistration, "{}");
        assert_eq!(request.action, None, "Classic sends \"action\": null");
    }

    #[test]
    fn accepts_version_fields_as_numbers_and_keeps_number_values() {
        let body = br#"{"eventType":"com.okta.user.pre-registration","eventTypeVersion":1,
            "cloudEventVersion":0.1,"data":{"userProfileUpdate":{"employeeNumber":1234}}}"#;
        let call = HookCall::parse(body).unwrap();
        assert_eq!(call.envelope.event_type_version, "1");
        assert_eq!(call.envelope.cloud_event_version, "0.1");
        let request = call.registration_request(Flow::ProgressiveProfile, "{}");
        assert_eq!(
            request.user_profile_update,
            vec![attr("employeeNumber", "1234")]
        );
    }

    #[test]
    fn unknown_request_type_has_no_registration_flow() {
        let body =
            br#"{"eventType":"com.okta.user.pre-registration","requestType":"x.y","data":{}}"#;
        assert_eq!(HookCall::parse(body).unwrap().registration_flow(), None);
    }

    #[test]
    fn rejects_bodies_that_are_not_hook_calls() {
        let parse = |body: &str| HookCall::parse(body.as_bytes()).unwrap_err();
        assert!(matches!(parse("{"), ParseError::NotJson(_)));
        assert!(matches!(parse("[1]"), ParseError::NotAnObject));
        assert!(matches!(
            parse(r#"{"data":{}}"#),
            ParseError::MissingEventType
        ));
        assert!(matches!(
            parse(r#"{"eventType":7,"data":{}}"#),
            ParseError::MissingEventType
        ));
        assert!(matches!(
            parse(r#"{"eventType":"x"}"#),
            ParseError::MissingData
        ));
        assert!(matches!(
            parse(r#"{"eventType":"x","data":[]}"#),
            ParseError::MissingData
        ));
    }
}
