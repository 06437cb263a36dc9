//! Test rule (telephony hook): tries to let the one-time code out in the way its settings name,
//! so that tests can see the server keep it in, or answers what Okta would skip. Settings:
//! `{"leak": "log"}`, with `log` (a log line with the code), `answer` (the code in the
//! transaction id, its metadata and the `debugContext` of a `SUCCESSFUL` answer) or
//! `no-transaction-id` (a `SUCCESSFUL` answer with an empty transaction id).

use wasmhook_sdk::serde_json::{Map, Value};
use wasmhook_sdk::telephony::{Decision, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    leak: String,
}

struct Leaky;

impl Rule for Leaky {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let code = &request.message_profile.otp_code;
        match settings.leak.as_str() {
            "log" => {
                wasmhook_sdk::log::info(&format!("sending code {code}"));
                Ok(Decision::successful("LEAKY", "tx-1"))
            }
            "answer" => {
                let mut context = Map::new();
                context.insert("code".into(), Value::String(code.clone()));
                Ok(Decision::successful("LEAKY", format!("tx-{code}"))
                    .metadata(format!("code={code}"))
                    .debug_context(context))
            }
            "no-transaction-id" => Ok(Decision::successful("LEAKY", "")),
            other => Err(format!("unknown leak `{other}`")),
        }
    }
}

wasmhook_sdk::export_telephony_rule!(Leaky);
