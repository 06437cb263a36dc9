//! Renders arbitrary registration decisions (what a rule may return) as Okta answers, and the
//! failure policies' answers for arbitrary event types. See `common::check_render` for what is
//! asserted.
#![no_main]

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wasmhook::okta::response::MAX_RESPONSE_BYTES;
use wasmhook::okta::{PROGRESSIVE_PROFILE, REGISTRATION, SELF_SERVICE_REGISTRATION};
use wasmhook::runtime::{Attribute, Command, Decision, ErrorCause, Flow, HookError};

#[path = "common.rs"]
mod common;

/// JSON texts worth trying as attribute values and debug contexts, valid or not.
const JSON_SAMPLES: &[&str] = &[
    "1", "-0", "1.5e3", "1e400", "-1e-400", "18446744073709551616", "true", "false", "null", "\"x\"",
    "\"\"", "[]", "{}", "[1,{\"a\":null}]", "{\"a\":1,\"a\":2}", "{\"k\":\"v\"}", "\"\\ud800\"",
    "\"\\u0000\\n\"", "  \"spaced\"  ", "01", "[", "", "nul", "\"a\" \"b\"", "{\"a\":}", "\"é\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
];

const NAMES: &[&str] = &[
    "email", "firstName", "lastName", "login", "employeeNumber", "nickName", "password", "",
    "Password", "pass\u{0}word", "a\"b", "\\", "\u{2028}", "é",
];

const EVENT_TYPES: &[&str] = &[
    REGISTRATION,
    "com.okta.oauth2.tokens.transform",
    "com.okta.user.credential.password.import",
    "com.okta.saml.tokens.transform",
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

fn decision(u: &mut Unstructured) -> Result<Decision> {
    let n = u.int_in_range(0..=6)?;
    let commands = (0..n).map(|_| command(u)).collect::<Result<Vec<_>>>()?;
    let error = if u.arbitrary()? {
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
        Some(HookError {
            error_summary: text(u, &["Registration denied.", ""])?,
            error_causes: causes,
        })
    } else {
        None
    };
    let debug_context = match u.int_in_range(0..=3)? {
        0 | 1 => None,
        2 => Some(object_text(u, 2)?),
        _ => Some(json_text(u, 2)?),
    };
    Ok(Decision {
        commands,
        error,
        debug_context,
    })
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let flow = if u.arbitrary()? {
        Flow::SelfServiceRegistration
    } else {
        Flow::ProgressiveProfile
    };
    let max_bytes = match u.int_in_range(0..=3)? {
        0 | 1 => MAX_RESPONSE_BYTES,
        2 => u.int_in_range(0..=600)?,
        _ => u.int_in_range(0..=MAX_RESPONSE_BYTES)?,
    };
    let event_type = text(&mut u, EVENT_TYPES)?;
    common::check_failure_answers(&event_type);
    let decision = decision(&mut u)?;
    let _ = common::check_render(&decision, flow, max_bytes);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
