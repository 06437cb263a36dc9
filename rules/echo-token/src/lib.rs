//! Test rule (token hook): answers with the decision its settings hold, so that tests can send
//! the server any decision, including those Okta would reject, without a rule per case.
//!
//! Settings: `{"identity_patch": [{"op": "add", "path": "/claims/a", "value": 1}], "access_patch":
//! […], "error": "summary"}` (each optional; `value` is any JSON, or absent).

use serde_json::Value;
use wasmhook_sdk::serde_json;
use wasmhook_sdk::token::{Decision, HookError, PatchOp, PatchOperation, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    #[serde(default)]
    identity_patch: Vec<Operation>,
    #[serde(default)]
    access_patch: Vec<Operation>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct Operation {
    op: String,
    path: String,
    value: Option<Value>,
}

fn patch(operations: Vec<Operation>) -> Result<Vec<PatchOperation>, String> {
    operations
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
        .collect()
}

struct EchoToken;

impl Rule for EchoToken {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        Ok(Decision {
            identity_patch: patch(settings.identity_patch)?,
            access_patch: patch(settings.access_patch)?,
            error: settings.error.map(|summary| HookError {
                error_summary: summary,
                error_causes: Vec::new(),
            }),
            debug_context: None,
        })
    }
}

wasmhook_sdk::export_token_rule!(EchoToken);
