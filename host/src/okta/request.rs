//! Parsing an Okta hook request into the typed request a rule receives.
//!
//! Parsing is typed and lenient, in one pass per level: the envelope first, with `data` kept as
//! raw JSON text, then `data` for the hook type at hand. Nothing builds a generic JSON tree, and
//! profile values are handed on as the exact JSON text Okta sent. A field of an unexpected type
//! (a string where an object belongs, say) counts as absent rather than failing the call; a
//! `requestType` that is not a string counts as an unknown request type, never as absent.
//!
//! One thing is strict everywhere: a key repeated in any object of the body is a 400. Parsers
//! disagree on which copy wins (this one would take the first, a rule reading the raw body with
//! Python's `json` the last), and a call that means two things must not be answered.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{PROGRESSIVE_PROFILE, REGISTRATION, SELF_SERVICE_REGISTRATION};
use crate::runtime::{
    Attribute, Envelope, ExistingUser, Flow, RegistrationRequest, RequestContext,
};
use crate::untrusted::GuestText;

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
    #[error("the key `{0}` appears twice in one object")]
    DuplicateKey(GuestText),
}

/// A structurally valid hook call: the envelope, the `data` object and the raw body.
#[derive(Debug, Clone)]
pub struct HookCall {
    pub envelope: Envelope,
    /// `requestType` was present but not a string (the envelope then has none): routed like an
    /// unknown request type.
    pub request_type_malformed: bool,
    /// The `data` object's JSON text, parsed by hook type.
    data: Box<RawValue>,
    /// The body exactly as received (valid UTF-8 JSON).
    pub raw: String,
}

/// The hook call's top level, as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCall<'a> {
    #[serde(default)]
    event_id: Text,
    #[serde(default)]
    event_time: Text,
    #[serde(borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(default)]
    event_type_version: Text,
    #[serde(default)]
    content_type: Text,
    #[serde(default)]
    cloud_event_version: Text,
    #[serde(default)]
    source: Text,
    #[serde(default, borrow)]
    request_type: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
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

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireRequest {
    id: Text,
    method: Text,
    ip_address: Text,
    url: IfObject<WireUrl>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireUrl {
    value: Text,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireUser {
    id: Text,
    password_changed: Text,
    profile: IfObject<Profile>,
}

impl HookCall {
    /// Parses a request body. Unknown fields are ignored; version fields may be strings or numbers.
    pub fn parse(body: &[u8]) -> Result<HookCall, ParseError> {
        // A struct would also accept a JSON array (as a sequence of fields).
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            serde_json::from_slice::<IgnoredAny>(body)?;
            return Err(ParseError::NotAnObject);
        }
        let raw = std::str::from_utf8(body)
            .map_err(|e| ParseError::NotJson(serde::de::Error::custom(e)))?;
        reject_duplicate_keys(raw)?;
        let wire: WireCall = serde_json::from_str(raw)?;
        // Absent or `null` is Classic Engine's "no request type"; any other non-string is wrong.
        let (request_type, request_type_malformed) = match wire.request_type.map(RawValue::get) {
            None | Some("null") => (None, false),
            Some(text) if text.starts_with('"') => (serde_json::from_str(text).ok(), false),
            Some(_) => (None, true),
        };
        let event_type = wire
            .event_type
            .filter(|t| t.get().starts_with('"'))
            .and_then(|t| serde_json::from_str(t.get()).ok())
            .ok_or(ParseError::MissingEventType)?;
        let data = wire
            .data
            .filter(|d| d.get().starts_with('{'))
            .ok_or(ParseError::MissingData)?
            .to_owned();
        let envelope = Envelope {
            event_id: wire.event_id.or_empty(),
            event_time: wire.event_time.or_empty(),
            event_type,
            event_type_version: wire.event_type_version.or_empty(),
            content_type: wire.content_type.or_empty(),
            cloud_event_version: wire.cloud_event_version.or_empty(),
            source: wire.source.or_empty(),
            request_type,
        };
        Ok(HookCall {
            envelope,
            request_type_malformed,
            data,
            raw: raw.to_owned(),
        })
    }

    /// The registration flow of a registration hook call: absent `requestType` is Classic Engine
    /// self-service registration. `None` for other hook types and for unknown request types.
    pub fn registration_flow(&self) -> Option<Flow> {
        if self.envelope.event_type != REGISTRATION || self.request_type_malformed {
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
        // `data` is a JSON object (checked by `parse`) and every field is lenient.
        let data: WireRegistration = serde_json::from_str(self.data.get()).unwrap_or_default();
        let context = data.context.0.unwrap_or_default();
        let request = context.request.0.unwrap_or_default();
        RegistrationRequest {
            envelope: self.envelope.clone(),
            flow,
            context: RequestContext {
                id: request.id.0,
                method: request.method.0,
                ip_address: request.ip_address.0,
                url: request.url.0.and_then(|url| url.value.0),
            },
            user: context.user.0.map(|user| ExistingUser {
                id: user.id.0,
                password_changed: user.password_changed.0,
                profile: attributes(user.profile),
            }),
            user_profile: attributes(data.user_profile),
            user_profile_update: attributes(data.user_profile_update),
            action: data.action.0,
            settings: settings.to_owned(),
            raw: self.raw.clone(),
        }
    }
}

/// Refuses a body in which any object repeats a key. One pass over the text, keys compared as
/// borrowed slices (escaped keys are decoded), with a hash set only for large objects.
fn reject_duplicate_keys(raw: &str) -> Result<(), ParseError> {
    use std::borrow::Cow;
    use std::cell::RefCell;

    /// The first repeated key, kept out of the serde error so that it can be escaped.
    struct Unique<'r>(&'r RefCell<Option<String>>);

    impl<'de> serde::de::DeserializeSeed<'de> for Unique<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    struct Key<'de>(Cow<'de, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
            }
            deserializer.deserialize_str(KeyVisitor)
        }
    }

    impl<'de> Visitor<'de> for Unique<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Unique(self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            /// Up to this many keys, a linear scan beats hashing.
            const SCAN: usize = 16;
            let mut keys: Vec<Cow<'de, str>> = Vec::new();
            let mut many: std::collections::HashSet<Cow<'de, str>> = Default::default();
            while let Some(Key(key)) = map.next_key()? {
                let repeated = if keys.len() < SCAN {
                    keys.contains(&key)
                } else {
                    if many.is_empty() {
                        many.extend(keys.iter().cloned());
                    }
                    !many.insert(key.clone())
                };
                if repeated {
                    *self.0.borrow_mut() = Some(key.into_owned());
                    return Err(serde::de::Error::custom("duplicate key"));
                }
                keys.push(key);
                map.next_value_seed(Unique(self.0))?;
            }
            Ok(())
        }
    }

    let repeated = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    let checked = serde::de::DeserializeSeed::deserialize(Unique(&repeated), &mut deserializer)
        .and_then(|()| deserializer.end());
    match (checked, repeated.into_inner()) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(key)) => Err(ParseError::DuplicateKey(GuestText::new(&key, 64))),
        (Err(error), None) => Err(ParseError::NotJson(error)),
    }
}

/// A scalar as text: strings as they are, numbers and booleans in JSON form; `null` and any
/// other type are absent.
#[derive(Default)]
struct Text(Option<String>);

impl Text {
    fn or_empty(self) -> String {
        self.0.unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                // The same text as serde_json writes (1.0 stays "1.0").
                Ok(Text(serde_json::Number::from_f64(v).map(|n| n.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// `T` when the value is a JSON object; absent when it is anything else.
struct IfObject<T>(Option<T>);

impl<T> Default for IfObject<T> {
    fn default() -> Self {
        IfObject(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IfObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = IfObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<IfObject<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| IfObject(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<IfObject<T>, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| IfObject(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<IfObject<T>, E> {
                Ok(IfObject(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<IfObject<T>, E> {
                Ok(IfObject(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<IfObject<T>, E> {
                Ok(IfObject(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<IfObject<T>, E> {
                Ok(IfObject(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<IfObject<T>, E> {
                Ok(IfObject(None))
            }
            fn visit_unit<E>(self) -> Result<IfObject<T>, E> {
                Ok(IfObject(None))
            }
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// A profile object as an ordered attribute list, each value the exact JSON text sent.
#[derive(Default)]
struct Profile(Vec<Attribute>);

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProfileVisitor;
        impl<'de> Visitor<'de> for ProfileVisitor {
            type Value = Profile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a profile object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Profile, A::Error> {
                let mut attributes = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, value)) = map.next_entry::<String, &RawValue>()? {
                    let value = value.get().to_owned();
                    attributes.push(Attribute { name, value });
                }
                Ok(Profile(attributes))
            }
        }
        deserializer.deserialize_map(ProfileVisitor)
    }
}

/// The attributes of a profile that may be absent or of the wrong type.
fn attributes(profile: IfObject<Profile>) -> Vec<Attribute> {
    profile.0.unwrap_or_default().0
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
    fn fields_of_unexpected_types_count_as_absent() {
        let body = br#"{"eventType":"com.okta.user.pre-registration","eventId":{"x":1},
            "data":{"context":{"request":"POST","user":{"id":["u"],"profile":7}},
            "userProfile":{"email":"a@example.com","tags":[1, {"b" : null}]},
            "userProfileUpdate":"nope","action":null}}"#;
        let call = HookCall::parse(body).unwrap();
        assert_eq!(call.envelope.event_id, "");
        let request = call.registration_request(Flow::SelfServiceRegistration, "{}");
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
    fn a_key_repeated_in_any_object_is_refused() {
        let base = SSR_OIE;
        let repeated = [
            base.replace(r#""eventType""#, r#""eventId":"x","eventType""#),
            base.replace(
                r#""firstName""#,
                r#""email":"evil@example.org","firstName""#,
            ),
            base.replace(r#""ipAddress""#, r#""id":"again","ipAddress""#),
            // Escaped spellings of the same key are the same key.
            base.replace(
                r#""firstName""#,
                r#""em\u0061il":"evil@example.org","firstName""#,
            ),
            // In objects the host never reads, too: a rule may read the raw body.
            r#"{"eventType":"x","data":{"extra":[{"a":1,"a":2}]}}"#.to_owned(),
        ];
        for body in &repeated {
            let error = HookCall::parse(body.as_bytes()).unwrap_err();
            assert!(
                matches!(error, ParseError::DuplicateKey(_)),
                "{error}: {body}"
            );
        }
        let many: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let large = format!(r#"{{"eventType":"x","data":{{{many}"k7":0}}}}"#);
        assert!(matches!(
            HookCall::parse(large.as_bytes()).unwrap_err(),
            ParseError::DuplicateKey(key) if key.as_str() == "k7"
        ));
        let unique = format!(r#"{{"eventType":"x","data":{{{many}"k40":0}}}}"#);
        assert!(HookCall::parse(unique.as_bytes()).is_ok());
        assert!(HookCall::parse(base.as_bytes()).is_ok());
    }

    #[test]
    fn a_request_type_that_is_not_a_string_is_an_unknown_request_type() {
        for request_type in ["{}", "5", "[\"self.service.registration\"]", "true"] {
            let body = format!(
                r#"{{"eventType":"com.okta.user.pre-registration","requestType":{request_type},"data":{{}}}}"#
            );
            let call = HookCall::parse(body.as_bytes()).unwrap();
            assert!(call.request_type_malformed, "{request_type}");
            assert_eq!(call.registration_flow(), None, "{request_type}");
        }
        let null =
            br#"{"eventType":"com.okta.user.pre-registration","requestType":null,"data":{}}"#;
        let call = HookCall::parse(null).unwrap();
        assert_eq!(
            call.registration_flow(),
            Some(Flow::SelfServiceRegistration)
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
        assert!(matches!(parse("["), ParseError::NotJson(_)));
        assert!(matches!(
            HookCall::parse(b"{\"eventType\":\"\xff\",\"data\":{}}"),
            Err(ParseError::NotJson(_))
        ));
        assert!(matches!(parse(""), ParseError::NotJson(_)));
        assert!(matches!(
            parse(r#"{"eventType":"x","data":{}} x"#),
            ParseError::NotJson(_)
        ));
        assert!(matches!(parse(" \"text\""), ParseError::NotAnObject));
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
