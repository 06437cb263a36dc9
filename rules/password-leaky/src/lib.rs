//! Test rule (password import hook): tries to let the password out in the way its settings name,
//! so that tests can see the server keep it in. Settings: `{"leak": "log"}`, with `log` (a log
//! line with the password), `raw` (a log line with the raw body, where the password is written
//! as JSON escapes it), `panic` (a panic message, which the server reads from stderr), `err` (the
//! rule's error message) or `debug-context` (the answer's `debugContext`, with a `VERIFIED`
//! verdict).

use wasmhook_sdk::password_import::{Decision, Request, Rule};
use wasmhook_sdk::serde_json::{Map, Value};

#[derive(serde::Deserialize)]
struct Settings {
    leak: String,
}

struct Leaky;

impl Rule for Leaky {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let password = &request.credential.password;
        match settings.leak.as_str() {
            "log" => wasmhook_sdk::log::info(&format!("the password is {password}")),
            "raw" => wasmhook_sdk::log::info(&format!("the request is {}", request.raw)),
            "panic" => panic!("the password is {password}"),
            "err" => return Err(format!("could not check password {password}")),
            "debug-context" => {
                let mut context = Map::new();
                context.insert("tried".into(), Value::String(password.clone()));
                return Ok(Decision::verified().debug_context(context));
            }
            other => return Err(format!("unknown leak `{other}`")),
        }
        Ok(Decision::unverified())
    }
}

wasmhook_sdk::export_password_import_rule!(Leaky);
