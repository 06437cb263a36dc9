//! Telephony hook: sends the message Okta would send (`msgTemplate`, the code included) through an
//! SMS provider's HTTP API, with one `POST` of `{"to": …, "channel": "sms" | "voice", "message": …}`
//! as JSON to the settings' `send_url`. The provider answers `200` or `201` when it sent the
//! message and `202` when it will, with `{"id": …}`; any other answer, or none, is an error, so
//! Okta sends the code through its own providers.
//!
//! Settings: `{"send_url": "https://sms.example.net/v1/messages", "provider": "EXAMPLE"}`. The
//! route must grant the provider's origin (`allowed_outbound_hosts`); the provider's API key comes
//! from the server's `outbound_credentials`, never from the settings.

use wasmhook_sdk::http;
use wasmhook_sdk::serde_json::json;
use wasmhook_sdk::telephony::{Decision, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    send_url: String,
    provider: String,
}

#[derive(serde::Deserialize)]
struct Sent {
    id: String,
}

struct SmsProvider;

impl Rule for SmsProvider {
    /// Refuses, when the route loads, settings without a `send_url` and a `provider` name.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| {
                "`send_url` must be the provider's URL and `provider` its name (strings)".into()
            })
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let message = &request.message_profile;
        let channel = if message.is_voice_call() {
            "voice"
        } else {
            "sms"
        };
        let response = http::Request::post(&settings.send_url)
            .json(&json!({"to": message.phone_number, "channel": channel, "message": message.msg_template}))
            .send()?;
        let sent = |response: &http::Response| -> Result<String, String> {
            Ok(response.json::<Sent>()?.id)
        };
        match response.status {
            200 | 201 => Ok(Decision::successful(settings.provider, sent(&response)?)),
            202 => Ok(Decision::pending(settings.provider, sent(&response)?)),
            status => Err(format!("the SMS provider answered {status}")),
        }
    }
}

wasmhook_sdk::export_telephony_rule!(SmsProvider);
