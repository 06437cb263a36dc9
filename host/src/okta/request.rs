//! Parsing the part of an Okta hook request every hook type shares: the envelope, with `data`
//! kept as raw JSON text for the hook type's own parser (see `crate::hooks`).
//!
//! Parsing is lenient (see [`super::wire`]), but a `requestType` that is not a string counts as an
//! unknown request type, never as absent.
//!
//! One thing is strict everywhere: a key repeated in any object of the body is a 400. Parsers
//! disagree on which copy wins (this one would take the first, a rule reading the raw body with
//! Python's `json` the last), and a call that means two things must not be answered.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::wire::Text;
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

/// The envelope every Okta inline hook request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub event_id: String,
    pub event_time: String,
    pub event_type: String,
    /// Given as text even when Okta sent a number.
    pub event_type_version: String,
    pub content_type: String,
    pub cloud_event_version: String,
    pub source: String,
    /// `requestType` when Okta sent one as a string.
    pub request_type: Option<String>,
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

    /// The `data` object's JSON text.
    pub fn data(&self) -> &str {
        self.data.get()
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

#[cfg(test)]
mod tests {
    use super::*;

    const SSR_OIE: &str = include_str!("../../../tests/fixtures/okta/registration-ssr-oie.json");

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
