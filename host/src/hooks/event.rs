//! Event hooks (`com.okta.event_hook`): Okta pushes a batch of System Log events (`data.events[]`)
//! after they happened, and expects an answer at once. Nothing the rules decide goes back to Okta,
//! so this module only parses a delivery into its events, matches an event's type against a
//! route's pattern, and types the request an event rule gets for one event.
//!
//! Delivery is at least once and out of order ([`crate::events`] queues, de-duplicates and retries).
//! A delivery whose events cannot be identified (no `uuid` or `eventType`, or ones no queue key
//! can be made of) is refused whole with a 400: acknowledging it would mean dropping those events
//! without a trace, and Okta does not retry a 4xx, so the refusal shows in Okta's System Log as a
//! failed `event_hook.delivery`.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::okta::HookCall;
use crate::okta::wire::{IfObject, Text};

/// `eventType` of an event hook delivery.
pub const EVENT_TYPE: &str = "com.okta.event_hook";

/// Longest `uuid` accepted: Okta's are 36 characters.
const MAX_UUID_BYTES: usize = 128;
/// Longest System Log `eventType` accepted (or route pattern): Okta's are under 80 characters.
pub const MAX_EVENT_TYPE_BYTES: usize = 256;

/// Why a delivery is refused (answered with 400).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("`data.events` is missing or not a list")]
    NoEvents,
    #[error("`data.events[{0}]` is not an object")]
    NotAnEvent(usize),
    #[error(
        "`data.events[{0}].uuid` is missing, or not 1 to {MAX_UUID_BYTES} visible ASCII characters"
    )]
    BadUuid(usize),
    #[error(
        "`data.events[{0}].eventType` is missing, or not 1 to {MAX_EVENT_TYPE_BYTES} letters, digits, `.`, `_` or `-`"
    )]
    BadEventType(usize),
}

/// The delivery an event came in (its envelope).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub event_id: String,
    pub event_time: String,
    pub source: String,
}

/// An actor or target of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub id: String,
    pub kind: String,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
}

/// One System Log event, typed, with its JSON text as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub uuid: String,
    pub event_type: String,
    pub published: String,
    pub display_message: Option<String>,
    pub severity: Option<String>,
    pub actor: Option<Entity>,
    pub target: Vec<Entity>,
    pub outcome: Option<String>,
    pub outcome_reason: Option<String>,
    pub raw: String,
}

/// What an event rule gets for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub event: LogEvent,
    pub delivery: Delivery,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub settings: String,
}

/// An event rule's decision: it handled the event (its `err` is a failure, retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision;

/// An event as it travels through the queue: where it came from and its JSON text, which is
/// parsed again (cheaply) when its rule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub uuid: String,
    pub event_type: String,
    pub published: String,
    pub raw: String,
}

/// Splits a delivery into its events, sorted by `published` (Okta may batch them in any order).
pub fn events(call: &HookCall) -> Result<(Delivery, Vec<Queued>), DeliveryError> {
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow, default)]
        events: Option<&'a RawValue>,
    }
    let data: Data = serde_json::from_str(call.data()).map_err(|_| DeliveryError::NoEvents)?;
    let list = data
        .events
        .filter(|events| events.get().starts_with('['))
        .ok_or(DeliveryError::NoEvents)?;
    let list: Vec<&RawValue> =
        serde_json::from_str(list.get()).map_err(|_| DeliveryError::NoEvents)?;
    let mut queued = Vec::with_capacity(list.len());
    for (index, raw) in list.into_iter().enumerate() {
        let IfObject(Some(wire)) = serde_json::from_str::<IfObject<WireKey>>(raw.get())
            .map_err(|_| DeliveryError::NotAnEvent(index))?
        else {
            return Err(DeliveryError::NotAnEvent(index));
        };
        let uuid = wire
            .uuid
            .0
            .filter(|uuid| is_visible_ascii(uuid, MAX_UUID_BYTES))
            .ok_or(DeliveryError::BadUuid(index))?;
        let event_type = wire
            .event_type
            .0
            .filter(|t| is_event_type(t))
            .ok_or(DeliveryError::BadEventType(index))?;
        queued.push(Queued {
            uuid,
            event_type,
            published: wire.published.or_empty(),
            raw: raw.get().to_owned(),
        });
    }
    queued.sort_by(|a, b| a.published.cmp(&b.published));
    let envelope = &call.envelope;
    let delivery = Delivery {
        event_id: envelope.event_id.clone(),
        event_time: envelope.event_time.clone(),
        source: envelope.source.clone(),
    };
    Ok((delivery, queued))
}

/// What identifies an event, read when it is delivered.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireKey {
    uuid: Text,
    event_type: Text,
    published: Text,
}

/// The typed request for `event`, a queued event, on its `attempt`.
pub fn request(event: &Queued, delivery: &Delivery, attempt: u32, settings: &str) -> Request {
    let wire: WireEvent = serde_json::from_str::<IfObject<WireEvent>>(&event.raw)
        .ok()
        .and_then(|object| object.0)
        .unwrap_or_default();
    let outcome = wire.outcome.0.unwrap_or_default();
    Request {
        event: LogEvent {
            uuid: event.uuid.clone(),
            event_type: event.event_type.clone(),
            published: event.published.clone(),
            display_message: wire.display_message.0,
            severity: wire.severity.0,
            actor: wire.actor.0.and_then(WireEntity::typed),
            target: wire
                .target
                .into_iter()
                .filter_map(|t| t.0.and_then(WireEntity::typed))
                .collect(),
            outcome: outcome.result.0,
            outcome_reason: outcome.reason.0,
            raw: event.raw.clone(),
        },
        delivery: delivery.clone(),
        attempt,
        settings: settings.to_owned(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireEvent {
    display_message: Text,
    severity: Text,
    actor: IfObject<WireEntity>,
    #[serde(deserialize_with = "list_or_empty")]
    target: Vec<IfObject<WireEntity>>,
    outcome: IfObject<WireOutcome>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireOutcome {
    result: Text,
    reason: Text,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct WireEntity {
    id: Text,
    #[serde(rename = "type")]
    kind: Text,
    alternate_id: Text,
    display_name: Text,
}

impl WireEntity {
    /// An entity needs an id to be one.
    fn typed(self) -> Option<Entity> {
        Some(Entity {
            id: self.id.0?,
            kind: self.kind.or_empty(),
            alternate_id: self.alternate_id.0,
            display_name: self.display_name.0,
        })
    }
}

/// A list, or nothing when the value is anything else.
fn list_or_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = <&RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).unwrap_or_default())
}

fn is_visible_ascii(text: &str, max_bytes: usize) -> bool {
    (1..=max_bytes).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether `text` can be a System Log event type (`user.lifecycle.create`).
fn is_event_type(text: &str) -> bool {
    (1..=MAX_EVENT_TYPE_BYTES).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A route's `event_type` for event hooks: one System Log event type (`user.lifecycle.create`),
/// every type under a prefix (`user.lifecycle.*`), or every event (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventPattern {
    Exact(String),
    /// The prefix, with its final dot (`user.lifecycle.`).
    Prefix(String),
    Any,
}

impl EventPattern {
    /// Parses a route's `event_type`; `None` if it is no System Log event type or pattern.
    pub fn parse(text: &str) -> Option<EventPattern> {
        if text == "*" {
            return Some(EventPattern::Any);
        }
        if let Some(prefix) = text.strip_suffix(".*") {
            return valid_type(prefix).then(|| EventPattern::Prefix(format!("{prefix}.")));
        }
        // Every System Log event type has at least two parts (`user.session.start`).
        (valid_type(text) && text.contains('.')).then(|| EventPattern::Exact(text.to_owned()))
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventPattern::Exact(exact) => exact == event_type,
            EventPattern::Prefix(prefix) => event_type.starts_with(prefix.as_str()),
            EventPattern::Any => true,
        }
    }

    /// How specific the pattern is: the most specific matching route handles an event.
    pub fn specificity(&self) -> usize {
        match self {
            EventPattern::Exact(exact) => usize::MAX - MAX_EVENT_TYPE_BYTES + exact.len(),
            EventPattern::Prefix(prefix) => prefix.len(),
            EventPattern::Any => 0,
        }
    }
}

/// Of `routes` with their patterns, the one whose pattern is the most specific that matches
/// `event_type`.
pub fn most_specific<'p, R>(
    routes: impl Iterator<Item = (R, &'p EventPattern)>,
    event_type: &str,
) -> Option<R> {
    routes
        .filter(|(_, pattern)| pattern.matches(event_type))
        .max_by_key(|(_, pattern)| pattern.specificity())
        .map(|(route, _)| route)
}

/// Dot-separated segments of letters, digits, `_` and `-`, not an inline hook's `com.okta.…`.
fn valid_type(text: &str) -> bool {
    is_event_type(text)
        && !text.starts_with("com.okta.")
        && text.split('.').all(|segment| !segment.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(events: &str) -> HookCall {
        let body = format!(
            r#"{{"eventType":"com.okta.event_hook","eventId":"d1","source":"s","eventTime":"t","data":{{"events":{events}}}}}"#
        );
        HookCall::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn a_delivery_is_split_into_its_events_in_publication_order() {
        let (delivery, events) = events(&call(
            r#"[{"uuid":"b","eventType":"user.lifecycle.create","published":"2024-01-02"},
                {"uuid":"a","eventType":"user.session.start","published":"2024-01-01"}]"#,
        ))
        .unwrap();
        assert_eq!(delivery.event_id, "d1");
        assert_eq!(
            events.iter().map(|e| e.uuid.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(events[1].raw.contains("user.lifecycle.create"));
    }

    #[test]
    fn events_that_cannot_be_identified_refuse_the_delivery() {
        for (events, expected) in [
            ("{}", "missing or not a list"),
            ("[1]", "events[0]` is not an object"),
            (r#"[{"eventType":"a.b"}]"#, "events[0].uuid"),
            (r#"[{"uuid":"","eventType":"a.b"}]"#, "events[0].uuid"),
            (r#"[{"uuid":"a b","eventType":"a.b"}]"#, "events[0].uuid"),
            (r#"[{"uuid":"a"}]"#, "events[0].eventType"),
            (
                r#"[{"uuid":"a","eventType":"a.b"},{"uuid":"b","eventType":"a\nb"}]"#,
                "events[1].eventType",
            ),
        ] {
            let error = super::events(&call(events)).unwrap_err().to_string();
            assert!(error.contains(expected), "{events}: {error}");
        }
        assert!(super::events(&call("[]")).unwrap().1.is_empty());
    }

    #[test]
    fn the_request_types_what_every_event_has_and_keeps_the_rest_raw() {
        let fixture = include_str!("../../../tests/fixtures/okta/event-hook-delivery.json");
        let call = HookCall::parse(fixture.as_bytes()).unwrap();
        let (delivery, events) = events(&call).unwrap();
        let request = request(&events[0], &delivery, 2, "{}");
        let event = &request.event;
        assert_eq!(event.uuid, "f1d0b993-cc19-11ed-a688-db22c99ef6c4");
        assert_eq!(event.event_type, "user.session.start");
        assert_eq!(event.published, "2023-03-26T21:05:32.159Z");
        assert_eq!(event.severity.as_deref(), Some("INFO"));
        assert_eq!(event.outcome.as_deref(), Some("SUCCESS"));
        assert_eq!(event.outcome_reason, None);
        let actor = event.actor.as_ref().unwrap();
        assert_eq!(
            (actor.id.as_str(), actor.kind.as_str()),
            ("00uz9fj5aT69fHVro1d6", "User")
        );
        assert_eq!(event.target.len(), 2);
        assert_eq!(event.target[1].kind, "AppInstance");
        assert!(event.raw.contains("\"ipChain\""));
        assert_eq!(request.attempt, 2);
        assert_eq!(
            request.delivery.event_id,
            "85b60edb-4263-4e13-993b-818e26201052"
        );
    }

    #[test]
    fn patterns_match_one_type_a_prefix_or_everything_and_the_most_specific_wins() {
        let exact = EventPattern::parse("user.lifecycle.create").unwrap();
        let prefix = EventPattern::parse("user.lifecycle.*").unwrap();
        let any = EventPattern::parse("*").unwrap();
        assert!(exact.matches("user.lifecycle.create"));
        assert!(!exact.matches("user.lifecycle.created"));
        assert!(prefix.matches("user.lifecycle.deactivate"));
        assert!(!prefix.matches("user.lifecycles.x"));
        assert!(!prefix.matches("user.session.start"));
        assert!(any.matches("anything.at.all"));
        assert!(exact.specificity() > prefix.specificity());
        assert!(prefix.specificity() > EventPattern::parse("user.*").unwrap().specificity());
        assert!(EventPattern::parse("user.*").unwrap().specificity() > any.specificity());
        for bad in [
            "",
            "user..create",
            "user.*.create",
            "user*",
            ".user",
            "com.okta.user.pre-registration",
            "user lifecycle",
            "user",
        ] {
            assert_eq!(EventPattern::parse(bad), None, "{bad}");
        }
    }
}
