//! Test rule (registration hook): sends the requests its settings list and reports what came of
//! each in the answer's `debugContext`, so that tests can see what the server lets a rule reach.
//!
//! Settings: `{"urls": ["http://127.0.0.1:8081/x", …], "follow_redirects": true,
//! "authorization": "Bearer from-the-rule"}` (all but `urls` optional). Each result is
//! `"<status> <body>"` or `"error: <message>"`; with `follow_redirects`, a 3xx's `location` is
//! requested next (at most 3 times), as a client that follows redirects would.

use wasmhook_sdk::http;
use wasmhook_sdk::registration::{Decision, Request, Rule};
use wasmhook_sdk::serde_json::{Map, Value};

#[derive(serde::Deserialize)]
struct Settings {
    urls: Vec<String>,
    #[serde(default)]
    follow_redirects: bool,
    authorization: Option<String>,
}

fn fetch(url: &str, settings: &Settings) -> String {
    let mut url = url.to_owned();
    for _ in 0..=3 {
        let mut request = http::Request::get(&url);
        if let Some(authorization) = &settings.authorization {
            request = request.header("authorization", authorization);
        }
        match request.send() {
            Err(error) => return format!("error: {error}"),
            Ok(response) => match response.header("location") {
                Some(location) if settings.follow_redirects && response.status / 100 == 3 => {
                    url = location.to_owned();
                }
                _ => return format!("{} {}", response.status, response.text()),
            },
        }
    }
    "error: too many redirects".into()
}

struct OutboundProbe;

impl Rule for OutboundProbe {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let results: Vec<Value> = settings
            .urls
            .iter()
            .map(|url| Value::String(fetch(url, &settings)))
            .collect();
        let mut context = Map::new();
        context.insert("results".into(), Value::Array(results));
        Ok(Decision::allow().debug_context(context))
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings).map(drop)
    }
}

wasmhook_sdk::export_registration_rule!(OutboundProbe);
