//! Parses arbitrary bytes as an Okta hook call, builds the registration request of a parsed call,
//! routes it through route tables made of realistic and fuzzed keys, renders the answer of a rule
//! that echoes the submitted profile, and the failure answers for the call's event type.
//!
//! The whole input is the request body, so the seed corpus is Okta's own JSON (tests/fixtures).
//! Asserted: parsing never panics; a parsed call's `raw` is exactly the input; what parsing accepts,
//! refuses and extracts agrees with serde_json's reading of the same body; routing picks the route
//! the documented rules pick; rendering obeys `common::check_render`.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wasmhook::okta::response::MAX_RESPONSE_BYTES;
use wasmhook::okta::{HookCall, ParseError, PROGRESSIVE_PROFILE, REGISTRATION, SELF_SERVICE_REGISTRATION};
use wasmhook::routing::{RouteTable, Unrouted};
use wasmhook::runtime::{Attribute, Command, Decision, Flow, RegistrationRequest};
use wasmhook::untrusted::GuestText;

#[path = "common.rs"]
mod common;

type Key = (String, Option<String>);

const TOKEN: &str = "com.okta.oauth2.tokens.transform";

/// The envelope fields as the host reads them: strings as they are, numbers and booleans as JSON
/// text, anything else empty.
fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn opt_text_of(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(_) | Value::Number(_) | Value::Bool(_)) => Some(text_of(value)),
        _ => None,
    }
}

fn object<'v>(value: Option<&'v Value>, key: &str) -> Option<&'v serde_json::Map<String, Value>> {
    value?.as_object()?.get(key)?.as_object()
}

/// A profile as the host hands it on, checked against serde_json's reading of the same object.
fn check_profile(attributes: &[Attribute], expected: Option<&serde_json::Map<String, Value>>) {
    let Some(expected) = expected else {
        assert!(attributes.is_empty(), "attributes from a non-object: {attributes:?}");
        return;
    };
    assert_eq!(attributes.len(), expected.len(), "{attributes:?} vs {expected:?}");
    for (attribute, (name, value)) in attributes.iter().zip(expected) {
        assert_eq!(&attribute.name, name, "attribute order");
        let parsed: Value = serde_json::from_str(&attribute.value)
            .unwrap_or_else(|e| panic!("attribute value is not JSON ({e}): {:?}", attribute.value));
        assert_eq!(&parsed, value, "attribute {name}");
    }
}

/// `registration_request` agrees with serde_json's reading of `data`.
fn check_request(request: &RegistrationRequest, call: &HookCall, flow: Flow, body: &Value) {
    assert_eq!(request.envelope, call.envelope);
    assert_eq!(request.flow, flow);
    assert_eq!(request.settings, "{}");
    assert_eq!(request.raw, call.raw);
    let data = body.get("data");
    let context = object(data, "context");
    let req = context.and_then(|c| c.get("request")).and_then(Value::as_object);
    let field = |name: &str| opt_text_of(req.and_then(|r| r.get(name)));
    assert_eq!(request.context.id, field("id"));
    assert_eq!(request.context.method, field("method"));
    assert_eq!(request.context.ip_address, field("ipAddress"));
    let url = req.and_then(|r| r.get("url")).and_then(Value::as_object);
    assert_eq!(request.context.url, opt_text_of(url.and_then(|u| u.get("value"))));
    let user = context.and_then(|c| c.get("user")).and_then(Value::as_object);
    assert_eq!(request.user.is_some(), user.is_some());
    if let (Some(got), Some(user)) = (&request.user, user) {
        assert_eq!(got.id, opt_text_of(user.get("id")));
        assert_eq!(got.password_changed, opt_text_of(user.get("passwordChanged")));
        check_profile(&got.profile, user.get("profile").and_then(Value::as_object));
    }
    check_profile(&request.user_profile, object(data, "userProfile"));
    check_profile(&request.user_profile_update, object(data, "userProfileUpdate"));
    assert_eq!(request.action, opt_text_of(data.and_then(|d| d.get("action"))));
}

/// What parsing returned agrees with serde_json's reading of the same bytes.
fn check_parse(data: &[u8], parsed: &Result<HookCall, ParseError>) -> Option<Value> {
    let value = serde_json::from_slice::<Value>(data);
    match (parsed, &value) {
        (Ok(call), Ok(body)) => {
            let body = body.as_object().expect("a parsed call's body is an object");
            assert_eq!(body.get("eventType").and_then(Value::as_str), Some(call.envelope.event_type.as_str()));
            assert!(body.get("data").is_some_and(Value::is_object));
            let e = &call.envelope;
            assert_eq!(e.event_id, text_of(body.get("eventId")));
            assert_eq!(e.event_time, text_of(body.get("eventTime")));
            assert_eq!(e.event_type_version, text_of(body.get("eventTypeVersion")));
            assert_eq!(e.content_type, text_of(body.get("contentType")));
            assert_eq!(e.cloud_event_version, text_of(body.get("cloudEventVersion")));
            assert_eq!(e.source, text_of(body.get("source")));
            match body.get("requestType") {
                None | Some(Value::Null) => {
                    assert_eq!((&e.request_type, call.request_type_malformed), (&None, false))
                }
                Some(Value::String(s)) => {
                    assert_eq!((e.request_type.as_ref(), call.request_type_malformed), (Some(s), false))
                }
                Some(_) => assert_eq!((&e.request_type, call.request_type_malformed), (&None, true)),
            }
        }
        // serde_json refuses numbers beyond f64 (`1e400`) that a JSON text may hold and that the
        // host, which never converts them, accepts.
        (Ok(_), Err(e)) => assert!(
            e.to_string().contains("number out of range"),
            "the host accepted a body serde_json refuses ({e}): {:?}",
            String::from_utf8_lossy(data)
        ),
        (Err(ParseError::NotJson(_)), Ok(_)) => {
            panic!("NotJson for valid JSON: {parsed:?}: {:?}", String::from_utf8_lossy(data))
        }
        (Err(ParseError::NotAnObject), Ok(body)) => assert!(!body.is_object()),
        (Err(ParseError::MissingEventType), Ok(body)) => {
            assert!(body.is_object() && !body["eventType"].is_string(), "{parsed:?}")
        }
        (Err(ParseError::MissingData), Ok(body)) => assert!(
            body.is_object() && body["eventType"].is_string() && !body["data"].is_object(),
            "{parsed:?}"
        ),
        (Err(ParseError::DuplicateKey(_)), Ok(_)) => {}
        (Err(ParseError::MissingEventType | ParseError::MissingData), Err(e)) => {
            panic!("{parsed:?} for a body serde_json refuses ({e})")
        }
        (Err(_), Err(_)) => {}
    }
    value.ok()
}

/// The route the documented rules pick: the first route of the event type with the call's exact
/// request type, else the first with none; a registration call without one is
/// `self.service.registration`; only registration calls with a known request type are routed.
fn check_route(routes: &[Key], call: &HookCall) {
    let table = RouteTable::new(routes.to_vec());
    let got = table.route(call);
    let e = &call.envelope;
    let flow = match (e.event_type.as_str(), call.request_type_malformed, e.request_type.as_deref()) {
        (REGISTRATION, false, None | Some(SELF_SERVICE_REGISTRATION)) => Some(Flow::SelfServiceRegistration),
        (REGISTRATION, false, Some(PROGRESSIVE_PROFILE)) => Some(Flow::ProgressiveProfile),
        _ => None,
    };
    assert_eq!(call.registration_flow(), flow);
    let Some(flow) = flow else {
        let expected = if e.event_type != REGISTRATION {
            Unrouted::NoRoute
        } else if call.request_type_malformed {
            Unrouted::MalformedRequestType
        } else {
            Unrouted::UnknownRequestType(GuestText::new(e.request_type.as_deref().unwrap(), 64))
        };
        assert_eq!(got.err(), Some(expected));
        return;
    };
    let request_type = e.request_type.as_deref().unwrap_or(SELF_SERVICE_REGISTRATION);
    let position = |specific: bool| {
        routes.iter().position(|(event, rt)| {
            event == &e.event_type
                && match rt {
                    Some(rt) => specific && rt == request_type,
                    None => !specific,
                }
        })
    };
    let expected = position(true).or_else(|| position(false));
    match (got, expected) {
        (Ok((route, got_flow)), Some(i)) => {
            assert!(std::ptr::eq(route, table.iter().nth(i).unwrap()), "route {route:?}, expected #{i}");
            assert_eq!(got_flow, flow);
        }
        (Err(Unrouted::NoRoute), None) => {}
        (got, expected) => panic!("routed {got:?}, expected route #{expected:?} of {routes:?}"),
    }
}

/// Route keys: the realistic ones, the call's own and near misses of them, and fuzzed ones.
fn route_tables(data: &[u8], call: &HookCall) -> Vec<Vec<Key>> {
    let own_event = call.envelope.event_type.clone();
    let own_request = call.envelope.request_type.clone();
    let events = [REGISTRATION.to_owned(), TOKEN.to_owned(), own_event.clone(), own_event.to_uppercase(), format!("{own_event} ")];
    let requests = [
        None,
        Some(SELF_SERVICE_REGISTRATION.to_owned()),
        Some(PROGRESSIVE_PROFILE.to_owned()),
        own_request.clone(),
        own_request.as_ref().map(|r| format!("{r}\0")),
        Some(String::new()),
    ];
    let realistic: Vec<Key> = [REGISTRATION, TOKEN]
        .iter()
        .flat_map(|e| requests[..3].iter().map(move |r| (e.to_string(), r.clone())))
        .collect();
    let mut tables = vec![Vec::new(), realistic.clone(), realistic.iter().rev().cloned().collect()];
    // Every subset of the realistic routes.
    for mask in 1u32..(1 << realistic.len()) - 1 {
        tables.push((0..realistic.len()).filter(|i| mask & (1 << i) != 0).map(|i| realistic[i].clone()).collect());
    }
    // The call's own keys and near misses, each alone.
    for event in &events {
        for request in &requests {
            tables.push(vec![(event.clone(), request.clone())]);
        }
    }
    // A table chosen by the input (its tail, mostly: Unstructured takes lengths from the end).
    let mut u = Unstructured::new(data);
    let mut fuzzed = Vec::new();
    for _ in 0..u.int_in_range(0..=6u8).unwrap_or(0) {
        let event = match u.int_in_range(0..=5u8).unwrap_or(0) {
            0..=4 => events[usize::from(u.int_in_range(0..=4u8).unwrap_or(0))].clone(),
            _ => u.arbitrary::<String>().unwrap_or_default(),
        };
        let request = match u.int_in_range(0..=6u8).unwrap_or(0) {
            i @ 0..=5 => requests[usize::from(i)].clone(),
            _ => Some(u.arbitrary::<String>().unwrap_or_default()),
        };
        fuzzed.push((event, request));
    }
    tables.push(fuzzed);
    tables
}

/// A rule that returns the submitted attributes as its update.
fn check_echo(request: &RegistrationRequest, flow: Flow) {
    let commands = match flow {
        Flow::SelfServiceRegistration => vec![Command::Allow, Command::UpdateProfile(request.user_profile.clone())],
        Flow::ProgressiveProfile => vec![Command::UpdateProgressiveProfile(request.user_profile_update.clone())],
    };
    let decision = Decision { commands, error: None, debug_context: None };
    let echoed = match flow {
        Flow::SelfServiceRegistration => &request.user_profile,
        Flow::ProgressiveProfile => &request.user_profile_update,
    };
    let result = common::check_render(&decision, flow, MAX_RESPONSE_BYTES);
    // Names are unique (parsing refuses repeated keys) and values are JSON as Okta sent it.
    let refusable = echoed.iter().any(|a| {
        common::forbidden_name(&a.name) || serde_json::from_str::<Value>(&a.value).is_err()
    });
    if !refusable {
        assert!(result.is_ok(), "echoing the profile failed: {result:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = HookCall::parse(data);
    let value = check_parse(data, &parsed);
    let Ok(call) = parsed else { return };
    assert_eq!(call.raw.as_bytes(), data, "raw is not the input");
    common::check_failure_answers(&call.envelope.event_type);
    for routes in route_tables(data, &call) {
        check_route(&routes, &call);
    }
    if let Some(flow) = call.registration_flow() {
        let request = call.registration_request(flow, "{}");
        if let Some(body) = &value {
            check_request(&request, &call, flow, body);
        }
        check_echo(&request, flow);
    }
});
