//! Renders arbitrary decisions of every hook type (what a rule may return) as Okta answers:
//! registration decisions in either flow, token decisions for requests carrying any combination of
//! ID and access tokens, SAML decisions; and the failure policies' answers for arbitrary event
//! types. The input also picks the answer limit (Okta's, or far lower).
//!
//! Asserted: rendering never panics; it gives exactly the body the oracles in `common` derive from
//! Okta's rules (registration commands per flow; JSON Patch pointers and values; reserved claims,
//! lifetimes of 300..=86400 s by `replace` only, no patch of a token the request does not carry;
//! SAML `add`/`replace` under subject, authentication, conditions or claims, a whole claim shaped
//! as an attribute), or `Invalid` exactly when they break one; `NoChange` only for an empty
//! decision; every body is a JSON object within the limit, labelled `Deny` exactly when it
//! refuses; `Oversize` only when the unlimited rendering really is larger than the limit; a
//! decision of another hook type than the call's is refused; the failure answers obey
//! `common::check_failure_answers`.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wasmhook::hooks::registration::{self, Command, Decision, Flow, PROGRESSIVE_PROFILE, SELF_SERVICE_REGISTRATION};
use wasmhook::hooks::{self, Asked, saml, token};
use wasmhook::okta::patch::escape;
use wasmhook::okta::{
    Attribute, ErrorCause, HookError, MAX_RESPONSE_BYTES, PatchOp, PatchOperation, Refusal,
};

#[path = "common.rs"]
mod common;

/// JSON texts worth trying as attribute values and debug contexts, valid or not.
const JSON_SAMPLES: &[&str] = &[
    "1", "-0", "1.5e3", "1e400", "-1e-400", "18446744073709551616", "true", "false", "null", "\"x\"",
    "\"\"", "[]", "{}", "[1,{\"a\":null}]", "{\"a\":1,\"a\":2}", "{\"k\":\"v\"}", "\"\\ud800\"",
    "\"\\u0000\\n\"", "  \"spaced\"  ", "01", "[", "", "nul", "\"a\" \"b\"", "{\"a\":}", "\"é\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
];

/// Patch values worth trying besides those: SAML attributes (well-formed or not) and token
/// lifetimes (in range or not, whole or not).
const PATCH_VALUES: &[&str] = &[
    r#"{"attributes":{"NameFormat":"urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"},"attributeValues":[{"attributes":{"xsi:type":"xs:string"},"value":"x"}]}"#,
    r#"{"attributeValues":[{"value":null}]}"#,
    r#"{"attributeValues":[{"value":"a"},{"value":1,"attributes":{}}]}"#,
    r#"{"attributeValues":[]}"#,
    r#"{"attributeValues":[{"v":1}]}"#,
    r#"{"attributeValues":[{"value":"a"},2]}"#,
    r#"{"attributeValues":{"value":"a"}}"#,
    r#"{"attributes":1,"attributeValues":[{"value":"a"}]}"#,
    r#"{"attributes":null,"attributeValues":[{"value":"a"}]}"#,
    r#"[{"attributeValues":[{"value":"a"}]}]"#,
    "300", "86400", "299", "86401", "600", "600.5", "3e2", "300.0", "-300", "\"600\"",
    "4294967296", "18446744073709551616", "null",
];

const NAMES: &[&str] = &[
    "email", "firstName", "lastName", "login", "employeeNumber", "nickName", "password", "",
    "Password", "pass\u{0}word", "a\"b", "\\", "\u{2028}", "é",
];

/// Claim names: ordinary, reserved in both tokens, in one of them, near misses, and names that
/// need escaping in a pointer.
const CLAIM_NAMES: &[&str] = &[
    "a", "department", "preferred_username", "iss", "jti", "ver", "exp", "scp", "sub", "aud",
    "amr", "groups", "username", "nonce", "auth_time", "ISS", "iss ", "http://example.com/role",
    "a~b", "", "extPatientId", "nameId",
];

/// JSON Pointers, realistic and odd.
const PATHS: &[&str] = &[
    "/claims/a", "/claims/http:~1~1x", "/claims/a~2", "/claims/a~", "/claims/a~0~1", "/claims/a/b",
    "/claims/groups/-", "/claims/", "/claims", "/claims//a", "/token/lifetime/expiration",
    "/token/lifetime/expiration/x", "/token/lifetime", "/token", "/subject/nameId",
    "/subject/nameFormat", "/authentication/sessionLifetime", "/authentication/authnContext/x",
    "/conditions/audienceRestriction/-", "/conditions", "/claims/extPatientId/attributeValues/0/value",
    "/lifetime/expiration", "/scopes/a", "", "/", "claims", "claims/a", "/claims/iss", "/claims/sub",
];

const EVENT_TYPES: &[&str] = &[
    registration::EVENT_TYPE,
    token::EVENT_TYPE,
    saml::EVENT_TYPE,
    "com.okta.user.credential.password.import",
    "com.okta.import.transform",
    "COM.OKTA.SAML.TOKENS.TRANSFORM",
    "",
    SELF_SERVICE_REGISTRATION,
    PROGRESSIVE_PROFILE,
];

fn pick<'a>(u: &mut Unstructured, list: &[&'a str]) -> Result<&'a str> {
    u.choose(list).copied()
}

/// Some text: short arbitrary, from a list, or now and then long, to reach Okta's size limit (rare:
/// a 256 KB answer takes a sanitised build some 100 ms to render).
fn text(u: &mut Unstructured, list: &[&str]) -> Result<String> {
    Ok(match u.int_in_range(0..=255u8)? {
        0..=111 => pick(u, list)?.to_owned(),
        112..=253 => u.arbitrary::<String>()?,
        254 => {
            let c: char = u.arbitrary()?;
            c.to_string().repeat(u.int_in_range(0..=70_000)?)
        }
        _ => "x".repeat(u.int_in_range(0..=300_000)?),
    })
}

/// A JSON text, usually valid, `depth` bounding nesting.
fn json_text(u: &mut Unstructured, depth: u32) -> Result<String> {
    Ok(match u.int_in_range(0..=9)? {
        0..=2 => pick(u, JSON_SAMPLES)?.to_owned(),
        3 => serde_json::to_string(&u.arbitrary::<String>()?).unwrap(),
        4 => u.arbitrary::<i64>()?.to_string(),
        5 => serde_json::Number::from_f64(u.arbitrary()?).map_or("0".into(), |n| n.to_string()),
        6 if depth > 0 => {
            let n = u.int_in_range(0..=4)?;
            let items = (0..n).map(|_| json_text(u, depth - 1)).collect::<Result<Vec<_>>>()?;
            format!("[{}]", items.join(","))
        }
        7 if depth > 0 => object_text(u, depth - 1)?,
        8 => text(u, JSON_SAMPLES)?,
        _ => u.arbitrary::<String>()?,
    })
}

fn object_text(u: &mut Unstructured, depth: u32) -> Result<String> {
    let n = u.int_in_range(0..=4)?;
    let mut members = Vec::new();
    for _ in 0..n {
        let key = serde_json::to_string(&text(u, NAMES)?).unwrap();
        members.push(format!("{key}:{}", json_text(u, depth)?));
    }
    Ok(format!("{{{}}}", members.join(",")))
}

fn attributes(u: &mut Unstructured) -> Result<Vec<Attribute>> {
    let n = u.int_in_range(0..=6)?;
    (0..n)
        .map(|_| {
            Ok(Attribute {
                name: text(u, NAMES)?,
                value: json_text(u, 3)?,
            })
        })
        .collect()
}

fn command(u: &mut Unstructured) -> Result<Command> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Command::Allow,
        1 => Command::Deny,
        2 => Command::UpdateProfile(attributes(u)?),
        _ => Command::UpdateProgressiveProfile(attributes(u)?),
    })
}

fn hook_error(u: &mut Unstructured) -> Result<Option<HookError>> {
    if !u.arbitrary()? {
        return Ok(None);
    }
    let n = u.int_in_range(0..=3)?;
    let causes = (0..n)
        .map(|_| {
            Ok(ErrorCause {
                error_summary: text(u, &["Incorrect email address.", ""])?,
                reason: text(u, &["INVALID_EMAIL_DOMAIN"])?,
                location_type: text(u, &["body", "header", "url", "query"])?,
                location: text(u, &["data.userProfile.email"])?,
                domain: text(u, &["end-user"])?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(HookError {
        error_summary: text(u, &["Registration denied.", ""])?,
        error_causes: causes,
    }))
}

fn debug_context(u: &mut Unstructured) -> Result<Option<String>> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 => None,
        2 => Some(object_text(u, 2)?),
        _ => Some(json_text(u, 2)?),
    })
}

fn decision(u: &mut Unstructured) -> Result<Decision> {
    let n = u.int_in_range(0..=6)?;
    let commands = (0..n).map(|_| command(u)).collect::<Result<Vec<_>>>()?;
    Ok(Decision {
        commands,
        error: hook_error(u)?,
        debug_context: debug_context(u)?,
    })
}

/// A pointer: from the list, a claim or member built from a name (escaped or not), or arbitrary.
fn path(u: &mut Unstructured) -> Result<String> {
    Ok(match u.int_in_range(0..=7u8)? {
        0..=2 => pick(u, PATHS)?.to_owned(),
        3 | 4 => format!("/claims/{}", escape(&text(u, CLAIM_NAMES)?)),
        5 => {
            let part = pick(u, &["claims", "subject", "authentication", "conditions", "token"])?;
            format!("/{part}/{}", text(u, CLAIM_NAMES)?)
        }
        _ => text(u, PATHS)?,
    })
}

/// An operation shaped like those Okta takes, so that whole patches are often valid: a claim
/// set or removed, the token lifetime replaced, an assertion attribute or member set.
fn likely_operation(u: &mut Unstructured) -> Result<PatchOperation> {
    let claim = |u: &mut Unstructured| -> Result<String> {
        Ok(format!("/claims/{}", escape(&text(u, CLAIM_NAMES)?)))
    };
    let (op, path, value) = match u.int_in_range(0..=5u8)? {
        0 => (PatchOp::Add, claim(u)?, Some(json_text(u, 2)?)),
        1 => (PatchOp::Remove, claim(u)?, None),
        2 => {
            let seconds = u.int_in_range(250..=86_450u32)?;
            (PatchOp::Replace, "/token/lifetime/expiration".to_owned(), Some(seconds.to_string()))
        }
        3 => (PatchOp::Add, claim(u)?, Some(pick(u, &PATCH_VALUES[..3])?.to_owned())),
        4 => {
            let path = pick(u, &["/subject/nameId", "/authentication/sessionLifetime", "/claims/array/attributeValues/1/value"])?;
            (PatchOp::Replace, path.to_owned(), Some(json_text(u, 1)?))
        }
        _ => {
            let op = *u.choose(&[PatchOp::Add, PatchOp::Replace])?;
            (op, claim(u)?, Some(pick(u, PATCH_VALUES)?.to_owned()))
        }
    };
    Ok(PatchOperation { op, path, value })
}

fn operation(u: &mut Unstructured) -> Result<PatchOperation> {
    if u.arbitrary()? {
        return likely_operation(u);
    }
    let op = *u.choose(&[PatchOp::Add, PatchOp::Replace, PatchOp::Remove])?;
    let path = path(u)?;
    let value = match u.int_in_range(0..=5u8)? {
        0 => None,
        1 | 2 => Some(pick(u, PATCH_VALUES)?.to_owned()),
        _ => Some(json_text(u, 3)?),
    };
    Ok(PatchOperation { op, path, value })
}

fn operations(u: &mut Unstructured) -> Result<Vec<PatchOperation>> {
    // Mostly short: one bad operation refuses the whole patch.
    let n = match u.int_in_range(0..=7u8)? {
        0..=2 => 0,
        3..=5 => 1,
        _ => u.int_in_range(2..=6)?,
    };
    (0..n).map(|_| operation(u)).collect()
}

fn token_decision(u: &mut Unstructured) -> Result<token::Decision> {
    Ok(token::Decision {
        identity_patch: operations(u)?,
        access_patch: operations(u)?,
        error: hook_error(u)?,
        debug_context: debug_context(u)?,
    })
}

fn saml_decision(u: &mut Unstructured) -> Result<saml::Decision> {
    Ok(saml::Decision {
        assertion_patch: operations(u)?,
        error: hook_error(u)?,
        debug_context: debug_context(u)?,
    })
}

/// A decision of one hook type rendered for a call of another is refused.
fn check_mismatch(decision: hooks::Decision, asked: Asked, max_bytes: usize) {
    let refused = hooks::render(decision, asked, max_bytes);
    assert!(matches!(refused, Err(Refusal::Invalid(_))), "another hook's decision: {refused:?}");
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let max_bytes = match u.int_in_range(0..=3)? {
        0 | 1 => MAX_RESPONSE_BYTES,
        2 => u.int_in_range(0..=600)?,
        _ => u.int_in_range(0..=MAX_RESPONSE_BYTES)?,
    };
    let event_type = text(&mut u, EVENT_TYPES)?;
    common::check_failure_answers(&event_type);
    match u.int_in_range(0..=2u8)? {
        0 => {
            let flow = if u.arbitrary()? {
                Flow::SelfServiceRegistration
            } else {
                Flow::ProgressiveProfile
            };
            let decision = decision(&mut u)?;
            let _ = common::check_render(&decision, flow, max_bytes);
            check_mismatch(hooks::Decision::Registration(decision), Asked::Saml, max_bytes);
        }
        1 => {
            let tokens = token::Tokens { identity: u.arbitrary()?, access: u.arbitrary()? };
            let decision = token_decision(&mut u)?;
            let _ = common::check_token_render(&decision, tokens, max_bytes);
            let asked = Asked::Registration(Flow::SelfServiceRegistration);
            check_mismatch(hooks::Decision::Token(decision), asked, max_bytes);
        }
        _ => {
            let decision = saml_decision(&mut u)?;
            let _ = common::check_saml_render(&decision, max_bytes);
            let asked = Asked::Token(token::Tokens { identity: true, access: true });
            check_mismatch(hooks::Decision::Saml(decision), asked, max_bytes);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
