//! Lenient parsing of Okta's JSON, shared by every hook type.
//!
//! A field of an unexpected type (a string where an object belongs, say) counts as absent rather
//! than failing the call, and version-like scalars are accepted as strings or numbers. Nothing
//! builds a generic JSON tree: each hook type deserialises `data` straight into its own structs
//! made of these pieces.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::types::{Attribute, RequestContext, Session, User};

/// `data.context.request`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct WireRequest {
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

impl From<IfObject<WireRequest>> for RequestContext {
    fn from(request: IfObject<WireRequest>) -> Self {
        let request = request.0.unwrap_or_default();
        RequestContext {
            id: request.id.0,
            method: request.method.0,
            ip_address: request.ip_address.0,
            url: request.url.0.and_then(|url| url.value.0),
        }
    }
}

/// `data.context.user`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct WireUser {
    id: Text,
    password_changed: Text,
    profile: IfObject<Profile>,
}

impl From<WireUser> for User {
    fn from(user: WireUser) -> Self {
        User {
            id: user.id.0,
            password_changed: user.password_changed.0,
            profile: attributes(user.profile),
        }
    }
}

/// `data.context.session`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct WireSession {
    id: Text,
    user_id: Text,
    login: Text,
    status: Text,
    created_at: Text,
    expires_at: Text,
    amr: Texts,
    idp: IfObject<WireIdp>,
    mfa_active: Flag,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireIdp {
    id: Text,
    #[serde(rename = "type")]
    kind: Text,
}

impl From<WireSession> for Session {
    fn from(session: WireSession) -> Self {
        let idp = session.idp.0.unwrap_or_default();
        Session {
            id: session.id.0,
            user_id: session.user_id.0,
            login: session.login.0,
            status: session.status.0,
            created_at: session.created_at.0,
            expires_at: session.expires_at.0,
            amr: session.amr.0,
            idp_id: idp.id.0,
            idp_type: idp.kind.0,
            mfa_active: session.mfa_active.0,
        }
    }
}

/// A list of scalars as text (see [`Text`]); anything that is not a list is empty, and items that
/// are not scalars are skipped.
#[derive(Default)]
pub struct Texts(pub Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Option::<AnyOf<Vec<Text>>>::deserialize(deserializer)?;
        let items = items.and_then(|any| any.0).unwrap_or_default();
        Ok(Texts(items.into_iter().filter_map(|text| text.0).collect()))
    }
}

/// A boolean; anything else is absent.
#[derive(Default)]
pub struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Option::<AnyOf<bool>>::deserialize(deserializer)?;
        Ok(Flag(value.and_then(|any| any.0)))
    }
}

/// A non-negative whole number that fits `u32` (numbers in text form too); anything else is absent.
#[derive(Default)]
pub struct Seconds(pub Option<u32>);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(deserializer)?;
        Ok(Seconds(text.0.and_then(|t| t.parse().ok())))
    }
}

/// `T` when the value deserialises as one; absent (not an error) when it does not.
struct AnyOf<T>(Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for AnyOf<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        Ok(AnyOf(serde_json::from_str(raw.get()).ok()))
    }
}

/// A scalar as text: strings as they are, numbers and booleans in JSON form; `null` and any
/// other type are absent.
#[derive(Default)]
pub struct Text(pub Option<String>);

impl Text {
    pub fn or_empty(self) -> String {
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
pub struct IfObject<T>(pub Option<T>);

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
pub struct Profile(pub Vec<Attribute>);

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
pub fn attributes(profile: IfObject<Profile>) -> Vec<Attribute> {
    profile.0.unwrap_or_default().0
}
