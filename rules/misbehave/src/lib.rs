//! A deliberately hostile rule for testing the sandbox: its `behaviour` setting picks how it
//! misbehaves. Never deploy it.
//!
//! Settings: `{"behaviour": "<name>"}`, one of the names matched below.

use std::hint::black_box;

use wasmhook_sdk::registration::{Attribute, Command, Decision, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    behaviour: String,
}

struct Misbehave;

impl Rule for Misbehave {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        match settings.behaviour.as_str() {
            "allow" => Ok(Decision::allow()),
            "panic" => panic!("the rule panicked"),
            "abort" => std::process::abort(),
            "loop" => loop {
                black_box(());
            },
            "allocate" => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "recurse" => Ok(Decision::deny(recurse(black_box(1)).to_string())),
            "rule-error" => Err("the rule refused to decide".into()),
            "invalid-attribute" => Ok(Decision {
                commands: vec![Command::UpdateProfile(vec![Attribute {
                    name: "nickName".into(),
                    value: "not json".into(),
                }])],
                error: None,
                debug_context: None,
            }),
            "oversized" => Ok(Decision::allow().update_profile("nickName", "x".repeat(300 * 1024))),
            "log-flood" => {
                for i in 0..100_000 {
                    wasmhook_sdk::log::info(&format!("flood line {i}"));
                }
                wasmhook_sdk::log::warn(&"y".repeat(1 << 20));
                Ok(Decision::allow())
            }
            other => Err(format!("unknown behaviour `{other}`")),
        }
    }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(depth + 1) + frame[depth as usize % 64]
}

wasmhook_sdk::export_registration_rule!(Misbehave);
