//! Checks shared by the fuzz targets: what a rendered answer must look like, whatever the decision
//! and whatever the hook type, and what the failure policies answer.
//!
//! Each hook type has an oracle here, written from Okta's rules rather than from the host's code:
//! it says whether a decision must be refused, and if not, the exact body it renders to.
//! [`check_outcome`] then holds the host's rendering to it, and to the invariants every hook
//! shares (a JSON object within the limit, `NoChange` only for an empty decision, `Oversize` only
//! for what really does not fit).
#![allow(dead_code)] // Each target uses part of this module.

use serde_json::{Map, Value};
use wasmhook::hooks::registration::{self, Command, Flow};
use wasmhook::hooks::{self, HookType, saml, token};
use wasmhook::okta::{
    Answer, Attribute, FailurePolicy, HookError, MAX_RESPONSE_BYTES, PatchOp, PatchOperation,
    Refusal,
};

/// Attribute names a profile update may never use.
pub fn forbidden_name(name: &str) -> bool {
    name.is_empty() || name == "password"
}

fn json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// What a decision must render to, according to the oracle.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Okta would refuse it: `Refusal::Invalid` (unless the early size check refuses it first).
    Invalid,
    /// An empty decision: `204`.
    NoChange,
    /// Exactly this body (as text: the order of keys matters to Okta, and serde_json's default
    /// float parsing does not always read back the float it wrote), labelled `Deny` or not.
    Body { text: String, deny: bool },
}

/// The body of an answer with `commands` (if any), `error` and `debugContext`, or `Invalid` when
/// the debug context is not a JSON object.
fn answer(
    commands: Vec<Value>,
    error: Option<&HookError>,
    debug_context: Option<&str>,
    deny: bool,
) -> Expected {
    let mut body = Map::new();
    if !commands.is_empty() {
        body.insert("commands".into(), Value::Array(commands));
    }
    if let Some(error) = error {
        let mut object = Map::new();
        object.insert("errorSummary".into(), error.error_summary.clone().into());
        if !error.error_causes.is_empty() {
            let causes = error.error_causes.iter().map(|c| {
                serde_json::json!({
                    "errorSummary": c.error_summary, "reason": c.reason,
                    "locationType": c.location_type, "location": c.location, "domain": c.domain,
                })
            });
            object.insert("errorCauses".into(), Value::Array(causes.collect()));
        }
        body.insert("error".into(), Value::Object(object));
    }
    if let Some(context) = debug_context {
        match json(context) {
            Some(context @ Value::Object(_)) => body.insert("debugContext".into(), context),
            _ => return Expected::Invalid,
        };
    }
    if body.is_empty() {
        return Expected::NoChange;
    }
    Expected::Body { text: Value::Object(body).to_string(), deny: deny || error.is_some() }
}

/// Renders with `render` at `max_bytes` and checks the outcome against what the oracle
/// `expected` and the invariants every hook shares. `empty` says whether the decision says nothing
/// at all (computed from the decision, not by the oracle); `render` is called again without limit
/// to check an `Oversize` refusal.
pub fn check_outcome(
    render: impl Fn(usize) -> Result<Answer, Refusal>,
    expected: &Expected,
    empty: bool,
    max_bytes: usize,
    decision: &dyn std::fmt::Debug,
) -> Result<Answer, Refusal> {
    let result = render(max_bytes);
    match &result {
        Ok(Answer::NoChange) => {
            assert!(empty, "NoChange for a non-empty decision: {decision:?}");
            assert_eq!(expected, &Expected::NoChange, "{decision:?}");
        }
        Ok(answer) => {
            assert!(!empty, "a body for an empty decision: {answer:?}");
            let body = answer.body().expect("Commands and Deny have a body");
            assert!(body.len() <= max_bytes, "{} bytes > limit {max_bytes}", body.len());
            let value: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {body:?}"));
            assert!(value.is_object(), "the answer is not a JSON object: {body}");
            let Expected::Body { text, deny } = expected else {
                panic!("rendered, expected {expected:?}: {decision:?} -> {answer:?}");
            };
            assert_eq!(matches!(answer, Answer::Deny(_)), *deny, "deny label: {decision:?}");
            assert_eq!(body, text, "rendered body differs: {decision:?}");
        }
        Err(Refusal::Invalid(message)) => {
            assert_eq!(expected, &Expected::Invalid, "refused ({message}): {decision:?}");
        }
        Err(Refusal::Oversize { size, limit }) => {
            assert_eq!(*limit, max_bytes);
            assert!(*size > max_bytes, "oversize {size} <= limit {limit}");
            // The early size check must be a lower bound: never refuse what would have fit.
            let unlimited = render(usize::MAX);
            let rendered = match &unlimited {
                Ok(answer) => answer.body().map_or(0, str::len),
                Err(_) => usize::MAX,
            };
            assert!(
                rendered > max_bytes,
                "refused as >= {size} bytes but renders in {rendered} <= {max_bytes}: {decision:?}"
            );
            match (expected, &unlimited) {
                (Expected::Invalid, Err(Refusal::Invalid(_))) => {}
                (Expected::NoChange, Ok(Answer::NoChange)) => {}
                (Expected::Body { text, .. }, Ok(answer)) => {
                    assert_eq!(answer.body(), Some(text.as_str()), "{decision:?}")
                }
                _ => panic!("without limit: {unlimited:?}, expected {expected:?}: {decision:?}"),
            }
        }
    }
    result
}

// Registration.

/// Whether `decision` breaks a rule of what Okta accepts in `flow` (so rendering must fail with
/// `Invalid` unless the size check refuses it first).
pub fn expected_invalid(decision: &registration::Decision, flow: Flow) -> bool {
    let bad_attributes = |attributes: &[Attribute]| {
        attributes.iter().enumerate().any(|(i, a)| {
            forbidden_name(&a.name)
                || json(&a.value).is_none()
                || attributes[..i].iter().any(|b| b.name == a.name)
        })
    };
    let bad_command = decision.commands.iter().any(|command| match (command, flow) {
        (Command::Allow | Command::Deny, _) => false,
        (Command::UpdateProfile(a), Flow::SelfServiceRegistration) => bad_attributes(a),
        (Command::UpdateProgressiveProfile(a), Flow::ProgressiveProfile) => bad_attributes(a),
        _ => true,
    });
    let bad_context = decision
        .debug_context
        .as_deref()
        .is_some_and(|c| !matches!(json(c), Some(Value::Object(_))));
    bad_command || bad_context
}

fn registration_empty(decision: &registration::Decision) -> bool {
    decision.commands.is_empty() && decision.error.is_none() && decision.debug_context.is_none()
}

fn expected_attributes(attributes: &[Attribute]) -> Value {
    let mut object = Map::new();
    for a in attributes {
        object.insert(a.name.clone(), json(&a.value).expect("checked valid"));
    }
    Value::Object(object)
}

fn expected_command(command: &Command) -> Value {
    let action = |a: &str| {
        serde_json::json!({"type": "com.okta.action.update", "value": {"registration": a}})
    };
    match command {
        Command::Allow => action("ALLOW"),
        Command::Deny => action("DENY"),
        Command::UpdateProfile(a) => serde_json::json!({
            "type": "com.okta.user.profile.update", "value": expected_attributes(a)}),
        Command::UpdateProgressiveProfile(a) => serde_json::json!({
            "type": "com.okta.user.progressive.profile.update", "value": expected_attributes(a)}),
    }
}

/// What a registration decision must render to in `flow`.
fn expected_registration(decision: &registration::Decision, flow: Flow) -> Expected {
    if expected_invalid(decision, flow) {
        return Expected::Invalid;
    }
    let commands = decision.commands.iter().map(expected_command).collect();
    let deny = decision.commands.contains(&Command::Deny);
    answer(commands, decision.error.as_ref(), decision.debug_context.as_deref(), deny)
}

/// Renders a registration decision and checks the outcome against everything the decision
/// implies.
pub fn check_render(
    decision: &registration::Decision,
    flow: Flow,
    max_bytes: usize,
) -> Result<Answer, Refusal> {
    let expected = expected_registration(decision, flow);
    let render = |max| registration::render(decision.clone(), flow, max);
    check_outcome(render, &expected, registration_empty(decision), max_bytes, decision)
}

// JSON Patch, as the token and SAML hooks take it.

/// The unescaped segments of an RFC 6901 pointer that names a member: it starts with `/`, has no
/// empty segment, and every `~` is `~0` or `~1`.
fn pointer(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    rest.split('/')
        .map(|segment| {
            let bytes = segment.as_bytes();
            let escapes_ok = bytes
                .iter()
                .enumerate()
                .all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')));
            (!segment.is_empty() && escapes_ok)
                .then(|| segment.replace("~1", "/").replace("~0", "~"))
        })
        .collect()
}

/// An operation that passed the checks every patch shares: its segments and its value (`None`
/// for `remove`).
struct Op<'a> {
    op: PatchOp,
    path: &'a str,
    segments: Vec<String>,
    value: Option<Value>,
}

/// The checks every patch shares: a member pointer, a JSON value for `add` and `replace`, none
/// (or `null`) for `remove`.
fn shared_rules(operation: &PatchOperation) -> Option<Op<'_>> {
    let segments = pointer(&operation.path)?;
    let value = match &operation.value {
        None => None,
        Some(text) => Some(json(text)?),
    };
    let value = match (operation.op, value) {
        (PatchOp::Remove, None | Some(Value::Null)) => None,
        (PatchOp::Remove, Some(_)) | (PatchOp::Add | PatchOp::Replace, None) => return None,
        (_, value) => value,
    };
    Some(Op { op: operation.op, path: &operation.path, segments, value })
}

fn op_json(op: &Op) -> Value {
    let name = match op.op {
        PatchOp::Add => "add",
        PatchOp::Replace => "replace",
        PatchOp::Remove => "remove",
    };
    let mut object = Map::new();
    object.insert("op".into(), name.into());
    object.insert("path".into(), op.path.into());
    if let Some(value) = &op.value {
        object.insert("value".into(), value.clone());
    }
    Value::Object(object)
}

/// A patch command of `kind` with `operations`, or `None` if any is refused by the shared rules
/// or by `hook_rules`.
fn patch_command(
    kind: &str,
    operations: &[PatchOperation],
    hook_rules: impl Fn(&Op) -> bool,
) -> Option<Value> {
    let mut rendered = Vec::new();
    for operation in operations {
        let op = shared_rules(operation)?;
        if !hook_rules(&op) {
            return None;
        }
        rendered.push(op_json(&op));
    }
    Some(serde_json::json!({"type": kind, "value": rendered}))
}

// Token.

/// Claims no token patch may touch (Okta's list of reserved claims and the token hook
/// reference), in both tokens, in access tokens, in ID tokens.
const RESERVED: &[&str] = &["iss", "jti", "ver", "token_type", "exp", "iat", "cid", "uid", "scp"];
const RESERVED_ACCESS: &[&str] = &["acr", "amr", "as_uri", "groups", "rpt", "rsi", "username"];
const RESERVED_IDENTITY: &[&str] = &[
    "active", "aid", "amr", "aud", "app_id", "app_type", "at_hash", "auth_time", "client_id",
    "client_ip", "client_req_id", "client_type", "client_user_agent", "cnf", "c_hash",
    "device_compliance", "device_id", "device_known", "device_managed", "device_name",
    "device_trust", "did", "dst", "group", "hotk", "idp", "idp_iss", "mac_key", "may_act",
    "nonce", "oid", "okta_emailVerified", "okta_lastUpdated", "orig", "permissions", "purpose",
    "pwd_exp_days", "pwd_exp_time", "rid", "role", "scope", "scopes", "sid", "sub", "term",
    "user_ip",
];

/// What Okta accepts in one token's patch: a claim that is not reserved (`/claims/<name>…`), or
/// the lifetime, replaced by a whole number of seconds from 300 to 86400.
fn token_rules(op: &Op, reserved: &[&str]) -> bool {
    match op.segments.as_slice() {
        [claims, name, ..] if claims == "claims" => {
            !RESERVED.contains(&name.as_str()) && !reserved.contains(&name.as_str())
        }
        [a, b, c] if a == "token" && b == "lifetime" && c == "expiration" => {
            op.op == PatchOp::Replace
                && op.value.as_ref().and_then(Value::as_u64).is_some_and(|s| (300..=86_400).contains(&s))
        }
        _ => false,
    }
}

fn token_empty(decision: &token::Decision) -> bool {
    decision.identity_patch.is_empty()
        && decision.access_patch.is_empty()
        && decision.error.is_none()
        && decision.debug_context.is_none()
}

/// What a token decision must render to for a request that carries `tokens`.
fn expected_token(decision: &token::Decision, tokens: token::Tokens) -> Expected {
    let mut commands = Vec::new();
    for (kind, operations, carried, reserved) in [
        ("com.okta.identity.patch", &decision.identity_patch, tokens.identity, RESERVED_IDENTITY),
        ("com.okta.access.patch", &decision.access_patch, tokens.access, RESERVED_ACCESS),
    ] {
        if operations.is_empty() {
            continue;
        }
        // A patch of a token the request does not carry is refused.
        let command = carried.then(|| patch_command(kind, operations, |op| token_rules(op, reserved)));
        match command.flatten() {
            Some(command) => commands.push(command),
            None => return Expected::Invalid,
        }
    }
    answer(commands, decision.error.as_ref(), decision.debug_context.as_deref(), false)
}

/// Renders a token decision for a request that carries `tokens` and checks the outcome.
pub fn check_token_render(
    decision: &token::Decision,
    tokens: token::Tokens,
    max_bytes: usize,
) -> Result<Answer, Refusal> {
    let expected = expected_token(decision, tokens);
    let render = |max| token::render(decision.clone(), tokens, max);
    let result = check_outcome(render, &expected, token_empty(decision), max_bytes, decision);
    let uncarried = (!decision.identity_patch.is_empty() && !tokens.identity)
        || (!decision.access_patch.is_empty() && !tokens.access);
    if uncarried {
        assert!(result.is_err(), "a patch of a token not carried ({tokens:?}) rendered: {decision:?}");
    }
    result
}

// SAML.

/// What Okta accepts in an assertion patch: `add` or `replace` of a member of the subject, the
/// authentication, the conditions or the claims; a whole claim must be an attribute.
fn assertion_rules(op: &Op) -> bool {
    let under = matches!(
        op.segments.as_slice(),
        [part, _, ..] if ["subject", "authentication", "conditions", "claims"].contains(&part.as_str())
    );
    let whole_claim = matches!(op.segments.as_slice(), [claims, _] if claims == "claims");
    op.op != PatchOp::Remove && under && (!whole_claim || op.value.as_ref().is_some_and(is_attribute))
}

/// `{"attributes": {…}?, "attributeValues": [{"value": …, …}, …]}`, at least one value.
fn is_attribute(value: &Value) -> bool {
    let Some(object) = value.as_object() else { return false };
    let attributes_ok = object.get("attributes").is_none_or(Value::is_object);
    let values_ok = match object.get("attributeValues") {
        Some(Value::Array(values)) => {
            !values.is_empty()
                && values.iter().all(|v| v.as_object().is_some_and(|v| v.contains_key("value")))
        }
        _ => false,
    };
    attributes_ok && values_ok
}

fn saml_empty(decision: &saml::Decision) -> bool {
    decision.assertion_patch.is_empty() && decision.error.is_none() && decision.debug_context.is_none()
}

/// What a SAML decision must render to.
fn expected_saml(decision: &saml::Decision) -> Expected {
    let mut commands = Vec::new();
    if !decision.assertion_patch.is_empty() {
        match patch_command("com.okta.assertion.patch", &decision.assertion_patch, assertion_rules) {
            Some(command) => commands.push(command),
            None => return Expected::Invalid,
        }
    }
    answer(commands, decision.error.as_ref(), decision.debug_context.as_deref(), false)
}

/// Renders a SAML decision and checks the outcome.
pub fn check_saml_render(decision: &saml::Decision, max_bytes: usize) -> Result<Answer, Refusal> {
    let expected = expected_saml(decision);
    let render = |max| saml::render(decision.clone(), max);
    check_outcome(render, &expected, saml_empty(decision), max_bytes, decision)
}

// Failure answers.

/// A fail-closed answer: a denial, a JSON object within Okta's limit, with an error summary;
/// registration's also denies with a DENY command, token's and SAML's are only the `error`.
fn check_fail_closed(hook: HookType, answer: &Answer) {
    let Answer::Deny(body) = answer else {
        panic!("{hook} must fail closed with a denial: {answer:?}");
    };
    assert!(body.len() <= MAX_RESPONSE_BYTES);
    let value: Value = serde_json::from_str(body).expect("fail-closed answer is JSON");
    let object = value.as_object().expect("fail-closed answer is an object");
    let summary = value["error"]["errorSummary"].as_str().unwrap_or_default();
    assert!(!summary.is_empty(), "{hook} fails closed without an error summary: {body}");
    match hook {
        HookType::Registration => {
            assert_eq!(value["commands"][0]["value"]["registration"], "DENY", "{body}");
        }
        HookType::Token | HookType::Saml => {
            assert_eq!(object.len(), 1, "{hook} fails closed with only an error: {body}");
            assert_eq!(value["error"].as_object().map(Map::len), Some(1), "{body}");
        }
    }
}

/// The failure answers for `event_type`, for both policies and for the hook type's default.
pub fn check_failure_answers(event_type: &str) {
    let hook = HookType::of_event_type(event_type);
    let listed = HookType::ALL.into_iter().find(|h| h.event_type() == event_type);
    assert_eq!(hook, listed, "{event_type:?}");
    if let Some(hook) = hook {
        // What Okta itself does: registration fails closed, token and SAML fail open.
        let default = match hook {
            HookType::Registration => FailurePolicy::FailClosed,
            HookType::Token | HookType::Saml => FailurePolicy::FailOpen,
        };
        assert_eq!(hook.default_policy(), default, "{hook}");
    }
    for policy in [Some(FailurePolicy::FailClosed), Some(FailurePolicy::FailOpen), None] {
        let answer = hooks::failure_answer(event_type, policy);
        let Some(hook) = hook else {
            assert_eq!(answer, Answer::NoChange, "{event_type:?} {policy:?}");
            continue;
        };
        let policy = policy.unwrap_or(hook.default_policy());
        assert_eq!(answer, hook.failure_answer(policy), "{hook} {policy:?}");
        match policy {
            FailurePolicy::FailOpen => assert_eq!(answer, Answer::NoChange, "{hook}"),
            FailurePolicy::FailClosed => check_fail_closed(hook, &answer),
        }
    }
}
