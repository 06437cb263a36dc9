//! User import hook: trims and lowercases the Okta user's attributes the settings name (logins
//! and emails typed by hand in an old app), and links the app user to the Okta user the import
//! matched when it matched exactly one; with none or several, Okta's plan stands.
//!
//! Settings: `{"normalise": ["login", "email"]}`.

use wasmhook_sdk::ProfileExt;
use wasmhook_sdk::user_import::{Decision, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    normalise: Vec<String>,
}

struct Normalise;

impl Rule for Normalise {
    /// Refuses, when the route loads, settings without a list of attribute names.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| "`normalise` must be a list of attribute names".into())
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let mut decision = Decision::no_change();
        for name in &settings.normalise {
            if let Some(value) = request.user_profile.get_str(name) {
                let normal = value.trim().to_lowercase();
                if normal != value {
                    decision = decision.update_user(name, normal);
                }
            }
        }
        if let [only] = request.matches.as_slice() {
            decision = decision.link_to(only);
        }
        Ok(decision)
    }
}

wasmhook_sdk::export_user_import_rule!(Normalise);
