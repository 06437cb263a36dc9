//! Token hook: adds each entry of the settings' `access_claims` object to the access token and
//! each entry of `identity_claims` to the ID token, only for the tokens the request carries.
//!
//! Settings: `{"access_claims": {"tenant": "demo"}, "identity_claims": {"department": "Engineering"}}`
//! (either may be left out).

use serde_json::{Map, Value};
use wasmhook_sdk::serde_json;
use wasmhook_sdk::token::{Decision, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    #[serde(default)]
    access_claims: Map<String, Value>,
    #[serde(default)]
    identity_claims: Map<String, Value>,
}

struct TokenClaims;

impl Rule for TokenClaims {
    /// Refuses, when the route loads, claims that are not objects of claim names and values.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| {
                "`access_claims` and `identity_claims` must be objects of claim names and values \
                 (either may be left out)"
                    .into()
            })
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let mut decision = Decision::no_change();
        if request.access.is_some() {
            for (name, value) in settings.access_claims {
                decision = decision.add_access_claim(&name, value);
            }
        }
        if request.identity.is_some() {
            for (name, value) in settings.identity_claims {
                decision = decision.add_identity_claim(&name, value);
            }
        }
        Ok(decision)
    }
}

wasmhook_sdk::export_token_rule!(TokenClaims);
