//! A deliberately hostile rule for testing the sandbox: its `behaviour` setting picks how it
//! misbehaves. Never deploy it.
//!
//! Settings: `{"behaviour": "<name>"}`, one of the names matched below, and optionally
//! `"validate": "<name>"` for how its settings check misbehaves.

use std::hint::black_box;

use wasmhook_sdk::registration::{Attribute, Command, Decision, ProfileExt, Request, Rule};

/// Direct WASI calls that Rust's std never makes (see `wit/world.wit`).
mod raw {
    wit_bindgen::generate!({ path: "wit", world: "raw-wasi", generate_all });
    pub use wasi::clocks::monotonic_clock::subscribe_duration;
    pub use wasi::random::random::get_random_bytes;
}

#[derive(serde::Deserialize)]
struct Settings {
    behaviour: String,
}

struct Misbehave;

/// The settings' `validate` picks how the settings check misbehaves (absent: it accepts them).
#[derive(serde::Deserialize)]
struct Validate {
    validate: Option<String>,
}

impl Rule for Misbehave {
    fn validate_settings(settings: &str) -> Result<(), String> {
        let Validate { validate } = wasmhook_sdk::parse_settings(settings)?;
        match validate.as_deref() {
            None | Some("accept") => Ok(()),
            Some("loop") => loop {
                black_box(());
            },
            Some("panic") => panic!("validate-settings panicked"),
            Some("allocate") => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            // A refusal that tries to forge a log line, clear the terminal and flood the output.
            Some("refuse-hostile") => Err(format!(
                "refused\n2026-01-01T00:00:00Z ERROR wasmhook: forged line\u{1b}[2J{}",
                "x".repeat(1 << 20)
            )),
            Some(other) => Err(format!("unknown validate `{other}`")),
        }
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        match settings.behaviour.as_str() {
            "allow" => Ok(Decision::allow()),
            "panic" => panic!("the rule panicked"),
            "abort" => std::process::abort(),
            "loop" => loop {
                black_box(());
            },
            // CPU-heavy but correct: about 10 ms of work, then an answer.
            "spin" => {
                let mut x = 0u64;
                for i in 0..20_000_000u64 {
                    x = black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                black_box(x);
                Ok(Decision::allow())
            }
            // Broken for some users only: loops when the email is at evilexample.com.
            "loop-on-evil" => {
                if request.submitted().email_domain().as_deref() == Some("evilexample.com") {
                    loop {
                        black_box(());
                    }
                }
                Ok(Decision::allow())
            }
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
            // Reaching outside the sandbox: each attempt's outcome is reported in the debug
            // context, so a test can check that it failed inside the guest.
            "read-file" => report("read-file", std::fs::read("/etc/hostname").map(|b| b.len())),
            "read-env" => report("read-env", std::env::var("HOME")),
            "open-socket" => report(
                "open-socket",
                std::net::TcpStream::connect("127.0.0.1:22").map(|_| ()),
            ),
            "read-clock" => report(
                "read-clock",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs()),
            ),
            "read-random" => {
                use std::hash::{BuildHasher, RandomState};
                report(
                    "read-random",
                    Ok::<_, String>(RandomState::new().hash_one(0u8)),
                )
            }
            "huge-alloc-then-answer" => {
                // Asks for more than the cap once, copes with the refusal, and still answers.
                let refused = Vec::<u8>::new().try_reserve_exact(1 << 30).is_err();
                report("huge-alloc-then-answer", Ok::<_, String>(refused))
            }
            "remember" => report("remember", Ok::<_, String>(remember())),
            // Proves that `remember` sees traces when there are some.
            "remember-twice" => report(
                "remember-twice",
                Ok::<_, String>((remember(), remember()).1),
            ),
            // Guest text that would forge a log line, reach the terminal or flood the log.
            "rule-error-forged" => Err(FORGED.into()),
            "rule-error-huge" => Err("e".repeat(1 << 20)),
            "invalid-attribute-forged" => Ok(Decision {
                commands: vec![Command::UpdateProfile(vec![Attribute {
                    name: FORGED.into(),
                    value: "not json".into(),
                }])],
                error: None,
                debug_context: None,
            }),
            "log-empty-flood" => {
                for _ in 0..1_000_000 {
                    wasmhook_sdk::log::info("");
                }
                Ok(Decision::allow())
            }
            "log-tiny-flood" => {
                for _ in 0..100_000 {
                    wasmhook_sdk::log::info("12345");
                }
                Ok(Decision::allow())
            }
            "log-escapes" => {
                wasmhook_sdk::log::warn(&"\u{1b}".repeat(1 << 20));
                wasmhook_sdk::log::warn(FORGED);
                Ok(Decision::allow())
            }
            "stderr-long" => {
                eprintln!("{}", "e".repeat(10_000));
                Ok(Decision::allow())
            }
            // Host calls that would do unbounded work or hold unbounded host memory.
            "random-huge" => report(
                "random-huge",
                Ok::<_, String>(raw::get_random_bytes(64 << 20).len()),
            ),
            "random-allowed" => report(
                "random-allowed",
                Ok::<_, String>(raw::get_random_bytes(64 << 10).len()),
            ),
            "hoard-pollables" => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(raw::subscribe_duration(u64::MAX));
                }
            }
            "million-commands" => Ok(Decision {
                commands: vec![Command::Allow; 1_000_000],
                error: None,
                debug_context: None,
            }),
            other => Err(format!("unknown behaviour `{other}`")),
        }
    }
}

/// A line break, a forged log line and terminal control codes.
const FORGED: &str =
    "refused\n2026-12-01T00:00:00.000000Z  INFO wasmhook: forged line\u{1b}[2J\u{1b}[31m";

/// Allows the call and records `outcome` as `{"<what>": "ok: …" | "error: …"}` in the debug context.
fn report<T: std::fmt::Debug, E: std::fmt::Display>(
    what: &str,
    outcome: Result<T, E>,
) -> Result<Decision, String> {
    let text = match outcome {
        Ok(value) => format!("ok: {value:?}"),
        Err(error) => format!("error: {error}"),
    };
    let mut context = wasmhook_sdk::serde_json::Map::new();
    context.insert(what.into(), text.into());
    Ok(Decision::allow().debug_context(context))
}

/// Leaves traces of this call in a global and on the heap, and says what it found of earlier
/// calls' traces: in a fresh instance, `(1, 0)` every time.
fn remember() -> (u32, usize) {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    const MARK: u8 = 0xA5;
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    // A fresh instance's allocator hands out the same addresses, so an earlier call's marks
    // would show up here if memory were not reset.
    let mut heap = Vec::<u8>::with_capacity(1 << 16);
    let spare = heap.spare_capacity_mut();
    // SAFETY: reading bytes as `u8` through `MaybeUninit::as_ptr` of memory the guest owns;
    // wasm linear memory is always initialised.
    let stale = spare
        .iter()
        .filter(|b| unsafe { b.as_ptr().read() } == MARK)
        .count();
    heap.resize(1 << 16, MARK);
    black_box(heap); // freed, marks and all: the next allocation of this size reuses it
    (calls, stale)
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(depth + 1) + frame[depth as usize % 64]
}

wasmhook_sdk::export_registration_rule!(Misbehave);
