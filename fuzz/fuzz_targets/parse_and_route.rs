//! Parses arbitrary bytes as an Okta hook call, builds the typed request of a parsed call of any
//! hook type (registration, token, SAML), routes it through route tables made of realistic and
//! fuzzed keys, renders the answer of a registration rule that echoes the submitted profile, and
//! the failure answers for the call's event type.
//!
//! The whole input is the request body, so the seed corpus is Okta's own JSON (tests/fixtures).
//! Asserted: parsing never panics; a parsed call's `raw` is exactly the input; what parsing accepts,
//! refuses and extracts (the envelope) agrees with serde_json's reading of the same body; building
//! the request of the call's hook type never panics, `HookType::request` gives the hook module's
//! own request, and what it extracts (registration: context, user, profiles, action; token: context,
//! protocol, session, user, policy, which tokens are carried, their claims in order and lifetimes,
//! scopes, refresh token; SAML: context, protocol, session, user, subject, authentication,
//! conditions, the claims in order with their values, lifetime) agrees with serde_json's reading of
//! `data`; routing picks the route the documented rules pick, for every hook type (registration by
//! normalised request type, token and SAML ignoring it); echoing the submitted profile renders as
//! `common::check_render` says; the failure answers obey `common::check_failure_answers`.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use wasmhook::hooks::registration::{
    self, Command, Decision, Flow, PROGRESSIVE_PROFILE, SELF_SERVICE_REGISTRATION,
};
use wasmhook::hooks::{self, Asked, HookType, saml, token};
use wasmhook::okta::{Attribute, HookCall, MAX_RESPONSE_BYTES, ParseError, RequestContext, Session, User};
use wasmhook::routing::{RouteTable, Unrouted};
use wasmhook::untrusted::GuestText;

#[path = "common.rs"]
mod common;

type Key = (String, Option<String>);

const REGISTRATION: &str = registration::EVENT_TYPE;
const TOKEN: &str = token::EVENT_TYPE;
const SAML: &str = saml::EVENT_TYPE;

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

/// A member that is an object.
fn object<'v>(value: Option<&'v Map<String, Value>>, key: &str) -> Option<&'v Map<String, Value>> {
    value?.get(key)?.as_object()
}

/// A scalar member as text.
fn field(value: Option<&Map<String, Value>>, key: &str) -> Option<String> {
    opt_text_of(value.and_then(|v| v.get(key)))
}

/// Whole seconds that fit `u32`, from a number or its text.
fn seconds(value: Option<&Map<String, Value>>, key: &str) -> Option<u32> {
    field(value, key).and_then(|t| t.parse().ok())
}

/// A list of scalars as text: anything but a list is empty, non-scalar items are skipped.
fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(|v| opt_text_of(Some(v))).collect(),
        _ => Vec::new(),
    }
}

/// `(name, JSON text)` pairs as the host hands them on (profiles, claims), checked against
/// serde_json's reading of the same object: same names in the same order, same values.
fn check_pairs<'a>(
    got: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    expected: Option<&Map<String, Value>>,
) {
    let Some(expected) = expected else {
        assert_eq!(got.len(), 0, "pairs from a non-object");
        return;
    };
    assert_eq!(got.len(), expected.len(), "{expected:?}");
    for ((name, value), (expected_name, expected_value)) in got.zip(expected) {
        assert_eq!(name, expected_name, "order");
        let parsed: Value = serde_json::from_str(value)
            .unwrap_or_else(|e| panic!("value of {name} is not JSON ({e}): {value:?}"));
        assert_eq!(&parsed, expected_value, "{name}");
    }
}

fn pairs(attributes: &[Attribute]) -> impl ExactSizeIterator<Item = (&str, &str)> {
    attributes.iter().map(|a| (a.name.as_str(), a.value.as_str()))
}

fn check_context(got: &RequestContext, context: Option<&Map<String, Value>>) {
    let request = object(context, "request");
    assert_eq!(got.id, field(request, "id"));
    assert_eq!(got.method, field(request, "method"));
    assert_eq!(got.ip_address, field(request, "ipAddress"));
    assert_eq!(got.url, field(object(request, "url"), "value"));
}

fn check_user(got: Option<&User>, context: Option<&Map<String, Value>>) {
    let user = object(context, "user");
    assert_eq!(got.is_some(), user.is_some(), "user");
    if let Some(got) = got {
        assert_eq!(got.id, field(user, "id"));
        assert_eq!(got.password_changed, field(user, "passwordChanged"));
        check_pairs(pairs(&got.profile), object(user, "profile"));
    }
}

fn check_session(got: Option<&Session>, context: Option<&Map<String, Value>>) {
    let session = object(context, "session");
    assert_eq!(got.is_some(), session.is_some(), "session");
    if let Some(got) = got {
        assert_eq!(got.id, field(session, "id"));
        assert_eq!(got.user_id, field(session, "userId"));
        assert_eq!(got.amr, texts(session.and_then(|s| s.get("amr"))));
        assert_eq!(got.idp_type, field(object(session, "idp"), "type"));
        assert_eq!(got.mfa_active, session.and_then(|s| s.get("mfaActive")).and_then(Value::as_bool));
    }
}

/// The registration request agrees with serde_json's reading of `data`.
fn check_registration_request(request: &registration::Request, call: &HookCall, flow: Flow, body: &Value) {
    assert_eq!(request.envelope, call.envelope);
    assert_eq!(request.flow, flow);
    assert_eq!(request.settings, "{}");
    assert_eq!(request.raw, call.raw);
    let data = body.get("data").and_then(Value::as_object);
    let context = object(data, "context");
    check_context(&request.context, context);
    check_user(request.user.as_ref(), context);
    check_pairs(pairs(&request.user_profile), object(data, "userProfile"));
    check_pairs(pairs(&request.user_profile_update), object(data, "userProfileUpdate"));
    assert_eq!(request.action, field(data, "action"));
}

fn check_minted(got: Option<&token::Token>, minted: Option<&Map<String, Value>>, kind: &str) {
    assert_eq!(got.is_some(), minted.is_some(), "{kind} token presence");
    let Some(got) = got else { return };
    let claims = got.claims.iter().map(|c| (c.name.as_str(), c.value.as_str()));
    check_pairs(claims, object(minted, "claims"));
    let lifetime = object(object(minted, "token"), "lifetime");
    assert_eq!(got.lifetime_seconds, seconds(lifetime, "expiration"), "{kind} lifetime");
}

/// The token request agrees with serde_json's reading of `data`.
fn check_token_request(request: &token::Request, call: &HookCall, body: &Value) {
    assert_eq!(request.envelope, call.envelope);
    assert_eq!(request.settings, "{}");
    assert_eq!(request.raw, call.raw);
    let data = body.get("data").and_then(Value::as_object);
    let context = object(data, "context");
    check_context(&request.context, context);
    check_user(request.user.as_ref(), context);
    check_session(request.session.as_ref(), context);
    let protocol = object(context, "protocol");
    assert_eq!(request.protocol.protocol_type, field(protocol, "type"));
    assert_eq!(request.protocol.issuer, field(object(protocol, "issuer"), "uri"));
    let client = object(protocol, "client");
    assert_eq!(request.protocol.client.is_some(), client.is_some(), "client");
    if let Some(got) = &request.protocol.client {
        assert_eq!(got.id, field(client, "id"));
        assert_eq!(got.client_type, field(client, "type"));
    }
    // A string parameter as its text, anything else as its JSON.
    let parameters = object(protocol, "request");
    let names: Vec<_> = request.protocol.parameters.iter().map(|p| p.name.as_str()).collect();
    let expected: Vec<_> = parameters.into_iter().flatten().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, expected, "parameters");
    for (got, (_, value)) in request.protocol.parameters.iter().zip(parameters.into_iter().flatten()) {
        match value {
            Value::String(s) => assert_eq!(&got.value, s),
            other => assert_eq!(serde_json::from_str::<Value>(&got.value).ok().as_ref(), Some(other)),
        }
    }
    let policy = object(context, "policy");
    assert_eq!(request.policy.is_some(), policy.is_some(), "policy");
    if let Some(got) = &request.policy {
        assert_eq!(got.id, field(policy, "id"));
        assert_eq!(got.rule_id, field(object(policy, "rule"), "id"));
    }
    let identity = object(data, "identity");
    let access = object(data, "access");
    check_minted(request.identity.as_ref(), identity, "identity");
    check_minted(request.access.as_ref(), access, "access");
    let tokens = request.tokens();
    assert_eq!((tokens.identity, tokens.access), (identity.is_some(), access.is_some()));
    // Scopes in order, each scope's id and action when it is an object.
    let scopes = object(access, "scopes");
    let names: Vec<_> = request.scopes.iter().map(|s| s.name.as_str()).collect();
    let expected: Vec<_> = scopes.into_iter().flatten().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, expected, "scopes");
    for (got, (_, value)) in request.scopes.iter().zip(scopes.into_iter().flatten()) {
        assert_eq!(got.id, field(value.as_object(), "id"), "scope {}", got.name);
        assert_eq!(got.action, field(value.as_object(), "action"), "scope {}", got.name);
    }
    assert_eq!(request.refresh_token_id, field(object(data, "refresh_token"), "jti"));
}

/// The SAML request agrees with serde_json's reading of `data`.
fn check_saml_request(request: &saml::Request, call: &HookCall, body: &Value) {
    assert_eq!(request.envelope, call.envelope);
    assert_eq!(request.settings, "{}");
    assert_eq!(request.raw, call.raw);
    let data = body.get("data").and_then(Value::as_object);
    let context = object(data, "context");
    check_context(&request.context, context);
    check_user(request.user.as_ref(), context);
    check_session(request.session.as_ref(), context);
    let protocol = object(context, "protocol");
    assert_eq!(request.protocol.protocol_type, field(protocol, "type"));
    let issuer = object(protocol, "issuer");
    assert_eq!(request.protocol.issuer.is_some(), issuer.is_some(), "issuer");
    if let Some(got) = &request.protocol.issuer {
        assert_eq!((&got.id, &got.name, &got.uri), (&field(issuer, "id"), &field(issuer, "name"), &field(issuer, "uri")));
    }
    let assertion = object(data, "assertion");
    let got = &request.assertion;
    let subject = object(assertion, "subject");
    assert_eq!(got.subject.name_id, field(subject, "nameId"));
    assert_eq!(got.subject.name_format, field(subject, "nameFormat"));
    let confirmation = object(subject, "confirmation");
    assert_eq!(got.subject.confirmation_method, field(confirmation, "method"));
    assert_eq!(got.subject.recipient, field(object(confirmation, "data"), "recipient"));
    let authentication = object(assertion, "authentication");
    assert_eq!(got.authentication.session_index, field(authentication, "sessionIndex"));
    assert_eq!(
        got.authentication.authn_context_class_ref,
        field(object(authentication, "authnContext"), "authnContextClassRef")
    );
    let conditions = object(assertion, "conditions");
    assert_eq!(got.conditions.audience_restriction, texts(conditions.and_then(|c| c.get("audienceRestriction"))));
    assert_eq!(got.lifetime_seconds, seconds(object(assertion, "lifetime"), "expiration"));
    // The claims that are objects, in order, each with its values that are objects.
    let claims: Vec<_> = object(assertion, "claims")
        .into_iter()
        .flatten()
        .filter_map(|(name, claim)| Some((name, claim.as_object()?)))
        .collect();
    let names: Vec<_> = got.claims.iter().map(|c| c.name.as_str()).collect();
    let expected: Vec<_> = claims.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, expected, "SAML claims");
    for (claim, (_, wire)) in got.claims.iter().zip(&claims) {
        let wire = Some(*wire);
        assert_eq!(claim.name_format, field(object(wire, "attributes"), "NameFormat"), "{}", claim.name);
        let values: Vec<_> = match wire.and_then(|w| w.get("attributeValues")) {
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        };
        assert_eq!(claim.values.len(), values.len(), "values of {}", claim.name);
        for (value, wire) in claim.values.iter().zip(values) {
            let wire = Some(wire);
            assert_eq!(value.value, field(wire, "value").unwrap_or_default(), "{}", claim.name);
            assert_eq!(value.xsi_type, field(object(wire, "attributes"), "xsi:type"), "{}", claim.name);
        }
    }
}

/// What parsing returned agrees with serde_json's reading of the same bytes.
fn check_parse(data: &[u8], parsed: &Result<HookCall, ParseError>) -> Option<Value> {
    let value = serde_json::from_slice::<Value>(data);
    match (parsed, &value) {
        (Ok(call), Ok(body)) => {
            let body = body.as_object().expect("a parsed call's body is an object");
            assert_eq!(body.get("eventType").and_then(Value::as_str), Some(call.envelope.event_type.as_str()));
            assert!(body.get("data").is_some_and(Value::is_object));
            let data: Value = serde_json::from_str(call.data()).expect("data() is JSON");
            assert_eq!(Some(&data), body.get("data"), "data() is `data`");
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

/// The hook type of an event type, as documented.
fn documented_hook(event_type: &str) -> Option<HookType> {
    match event_type {
        REGISTRATION => Some(HookType::Registration),
        TOKEN => Some(HookType::Token),
        SAML => Some(HookType::Saml),
        _ => None,
    }
}

/// The registration flow of a registration call, as documented: no request type (Classic
/// Engine) is self-service registration; a malformed or unknown one has none.
fn documented_flow(call: &HookCall) -> Option<Flow> {
    match (call.request_type_malformed, call.envelope.request_type.as_deref()) {
        (false, None | Some(SELF_SERVICE_REGISTRATION)) => Some(Flow::SelfServiceRegistration),
        (false, Some(PROGRESSIVE_PROFILE)) => Some(Flow::ProgressiveProfile),
        _ => None,
    }
}

/// Why a registration call without a flow is not routed.
fn unrouted_registration(call: &HookCall) -> Unrouted {
    if call.request_type_malformed {
        Unrouted::MalformedRequestType
    } else {
        Unrouted::UnknownRequestType(GuestText::new(call.envelope.request_type.as_deref().unwrap(), 64))
    }
}

/// The route the documented rules pick: only calls of a hook type's event type are routed; a
/// registration call is routed by its request type (none is `self.service.registration`, an
/// unknown or malformed one has no route), token and SAML calls by event type alone, so that only
/// their routes without a request type match; the first route with the exact request type wins,
/// else the first without one.
fn check_route(routes: &[Key], call: &HookCall) {
    let table = RouteTable::new(routes.to_vec());
    let got = table.route(call);
    let e = &call.envelope;
    let Some(hook) = documented_hook(&e.event_type) else {
        assert_eq!(got.err(), Some(Unrouted::NoRoute));
        return;
    };
    let request_type = match hook {
        HookType::Registration => {
            let Some(_) = documented_flow(call) else {
                assert_eq!(got.err(), Some(unrouted_registration(call)));
                return;
            };
            Some(e.request_type.as_deref().unwrap_or(SELF_SERVICE_REGISTRATION))
        }
        HookType::Token | HookType::Saml => None,
    };
    assert_eq!(hook.routed_request_type(call), Ok(request_type));
    let position = |specific: bool| {
        routes.iter().position(|(event, rt)| {
            event == &e.event_type
                && match rt {
                    Some(rt) => specific && Some(rt.as_str()) == request_type,
                    None => !specific,
                }
        })
    };
    let expected = position(true).or_else(|| position(false));
    match (got, expected) {
        (Ok((route, got_hook)), Some(i)) => {
            assert!(std::ptr::eq(route, table.iter().nth(i).unwrap()), "route {route:?}, expected #{i}");
            assert_eq!(got_hook, hook);
        }
        (Err(Unrouted::NoRoute), None) => {}
        (got, expected) => panic!("routed {got:?}, expected route #{expected:?} of {routes:?}"),
    }
}

/// Route keys: the realistic ones of every hook type, the call's own and near misses of them,
/// and fuzzed ones.
fn route_tables(data: &[u8], call: &HookCall) -> Vec<Vec<Key>> {
    let own_event = call.envelope.event_type.clone();
    let own_request = call.envelope.request_type.clone();
    let events = [
        REGISTRATION.to_owned(),
        TOKEN.to_owned(),
        SAML.to_owned(),
        own_event.clone(),
        own_event.to_uppercase(),
        format!("{own_event} "),
    ];
    let requests = [
        None,
        Some(SELF_SERVICE_REGISTRATION.to_owned()),
        Some(PROGRESSIVE_PROFILE.to_owned()),
        own_request.clone(),
        own_request.as_ref().map(|r| format!("{r}\0")),
        Some(String::new()),
    ];
    let keys_of = |event: &str| -> Vec<Key> {
        requests[..3].iter().map(|r| (event.to_owned(), r.clone())).collect()
    };
    let realistic: Vec<Key> = [REGISTRATION, TOKEN, SAML].iter().flat_map(|e| keys_of(e)).collect();
    let mut tables = vec![Vec::new(), realistic.clone(), realistic.iter().rev().cloned().collect()];
    // Every subset of the call's own event type's realistic routes, alone or after and before
    // the other hook types' routes.
    let own = keys_of(&own_event);
    let others: Vec<Key> = realistic.iter().filter(|(e, _)| e != &own_event).cloned().collect();
    for mask in 1u32..(1 << own.len()) {
        let subset: Vec<Key> = (0..own.len()).filter(|i| mask & (1 << i) != 0).map(|i| own[i].clone()).collect();
        tables.push(subset.clone());
        tables.push(subset.iter().rev().cloned().collect());
        tables.push(others.iter().chain(&subset).cloned().collect());
        tables.push(subset.iter().chain(&others).cloned().collect());
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
        let event = match u.int_in_range(0..=6u8).unwrap_or(0) {
            i @ 0..=5 => events[usize::from(i)].clone(),
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
fn check_echo(request: &registration::Request, flow: Flow) {
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

/// Builds the typed request of the call's hook type, checks it, and echoes a registration.
fn check_request(call: &HookCall, hook: HookType, body: Option<&Value>) {
    let request = hook.request(call, "{}");
    if let Ok(request) = &request {
        assert_eq!(request.hook(), hook);
    }
    match hook {
        HookType::Registration => {
            let Some(flow) = documented_flow(call) else {
                assert_eq!(request.err(), Some(unrouted_registration(call)));
                return;
            };
            let direct = registration::request(call, flow, "{}");
            assert_eq!(request, Ok(hooks::Request::Registration(direct.clone())));
            if let Some(body) = body {
                check_registration_request(&direct, call, flow, body);
            }
            check_echo(&direct, flow);
        }
        HookType::Token => {
            let direct = token::request(call, "{}");
            assert_eq!(request.as_ref().map(hooks::Request::asked), Ok(Asked::Token(direct.tokens())));
            assert_eq!(request, Ok(hooks::Request::Token(direct.clone())));
            if let Some(body) = body {
                check_token_request(&direct, call, body);
            }
        }
        HookType::Saml => {
            let direct = saml::request(call, "{}");
            assert_eq!(request, Ok(hooks::Request::Saml(direct.clone())));
            if let Some(body) = body {
                check_saml_request(&direct, call, body);
            }
        }
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
    let hook = HookType::of_event_type(&call.envelope.event_type);
    assert_eq!(hook, documented_hook(&call.envelope.event_type));
    if let Some(hook) = hook {
        check_request(&call, hook, value.as_ref());
    }
});
