//! Test rule (SAML assertion hook): answers with the decision its settings hold, so that tests
//! can send the server any decision, including those Okta would reject, without a rule per case.
//!
//! Settings: `{"assertion_patch": [{"op": "add", "path": "/claims/a", "value": {…}}], "error":
//! "summary"}` (each optional; `value` is any JSON, or absent).

use serde_json::Value;
use wasmhook_sdk::saml::{Decision, HookError, PatchOp, PatchOperation, Request, Rule};
use wasmhook_sdk::serde_json;

#[derive(serde::Deserialize)]
struct Settings {
    #[serde(default)]
    assertion_patch: Vec<Operation>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct Operation {
    op: String,
    path: String,
    value: Option<Value>,
}

struct EchoSaml;

impl Rule for EchoSaml {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let assertion_patch = settings
            .assertion_patch
            .into_iter()
            .map(|o| {
                let op = match o.op.as_str() {
                    "add" => PatchOp::Add,
                    "replace" => PatchOp::Replace,
                    "remove" => PatchOp::Remove,
                    other => return Err(format!("unknown op {other}")),
                };
                Ok(PatchOperation {
                    op,
                    path: o.path,
                    value: o.value.map(|v| v.to_string()),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Decision {
            assertion_patch,
            error: settings.error.map(|summary| HookError {
                error_summary: summary,
                error_causes: Vec::new(),
            }),
            debug_context: None,
        })
    }
}

wasmhook_sdk::export_saml_rule!(EchoSaml);
