//! Event hook rule: forwards each event it is given (route it the events to forward, e.g.
//! `event_type = "user.lifecycle.deactivate"`) to an HTTP endpoint, with one `POST` of
//! `{"uuid", "eventType", "published", "attempt", "users": [{"id", "login"}]}` as JSON to the
//! settings' `forward_url`. Any `2xx` is done; any other answer, or none, is an error, so the
//! server tries again later. The endpoint should treat a repeated `uuid` as done: the server runs
//! a rule at least once per event.
//!
//! Settings: `{"forward_url": "https://directory.example.com/v1/deactivated"}`. The route must
//! grant the endpoint's origin (`allowed_outbound_hosts`); an API key comes from the server's
//! `outbound_credentials`, never from the settings.

use wasmhook_sdk::event::{Request, Rule};
use wasmhook_sdk::http;
use wasmhook_sdk::serde_json::json;

#[derive(serde::Deserialize)]
struct Settings {
    forward_url: String,
}

struct Forward;

impl Rule for Forward {
    /// Refuses, when the route loads, settings without a `forward_url`.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| "`forward_url` must be the URL to forward events to".into())
    }

    fn handle(request: Request) -> Result<(), String> {
        let settings: Settings = request.settings()?;
        let event = &request.event;
        let users: Vec<_> = event
            .targets("User")
            .map(|user| json!({"id": user.id, "login": user.alternate_id}))
            .collect();
        let response = http::Request::post(&settings.forward_url)
            .json(&json!({
                "uuid": event.uuid,
                "eventType": event.event_type,
                "published": event.published,
                "attempt": request.attempt,
                "users": users,
            }))
            .send()?;
        match response.status {
            200..=299 => Ok(()),
            status => Err(format!("the endpoint answered {status}")),
        }
    }
}

wasmhook_sdk::export_event_rule!(Forward);
