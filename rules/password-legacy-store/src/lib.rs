//! Password import hook: asks the legacy identity store whether the password is right, with one
//! `POST` of `{"username": …, "password": …}` as JSON to the settings' `verify_url`. The store
//! answers `200` when it is, `401`, `403` or `404` when it is not (or the user is unknown); any
//! other answer, or none, is an error, so the password stays unverified and Okta asks again at
//! the next sign-in.
//!
//! Settings: `{"verify_url": "https://legacy.example.com/v1/verify"}`. The route must grant the
//! store's origin (`allowed_outbound_hosts`); an API key the store needs comes from the server's
//! `outbound_credentials`, never from the settings.

use wasmhook_sdk::http;
use wasmhook_sdk::password_import::{Decision, Request, Rule};
use wasmhook_sdk::serde_json::json;

#[derive(serde::Deserialize)]
struct Settings {
    verify_url: String,
}

struct LegacyStore;

impl Rule for LegacyStore {
    /// Refuses, when the route loads, settings without a `verify_url`.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| "`verify_url` must be the URL of the legacy store's check".into())
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let credential = &request.credential;
        let response = http::Request::post(&settings.verify_url)
            .json(&json!({"username": credential.username, "password": credential.password}))
            .send()?;
        match response.status {
            200 => Ok(Decision::verified()),
            401 | 403 | 404 => Ok(Decision::unverified()),
            status => Err(format!("the legacy store answered {status}")),
        }
    }
}

wasmhook_sdk::export_password_import_rule!(LegacyStore);
