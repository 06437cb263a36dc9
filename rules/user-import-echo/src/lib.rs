//! Test rule (user import hook): answers with the decision its settings describe, so that tests
//! can send the server what Okta would reject. Settings: `{"action": "LINK_USER" |
//! "CREATE_USER", "link_user_id": "00u…"}`, both optional.

use wasmhook_sdk::user_import::{Decision, ImportResult, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    action: Option<String>,
    link_user_id: Option<String>,
}

struct Echo;

impl Rule for Echo {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let action = match settings.action.as_deref() {
            None => None,
            Some("LINK_USER") => Some(ImportResult::LinkUser),
            Some("CREATE_USER") => Some(ImportResult::CreateUser),
            Some(other) => return Err(format!("unknown action `{other}`")),
        };
        Ok(Decision {
            action,
            link_user_id: settings.link_user_id,
            ..Decision::no_change()
        })
    }
}

wasmhook_sdk::export_user_import_rule!(Echo);
