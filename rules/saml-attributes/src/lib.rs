//! SAML assertion hook: adds each entry of the settings' `attributes` object as a single-valued
//! `xs:string` attribute with an unspecified `NameFormat` (a value that is not a string is sent as
//! its JSON text).
//!
//! Settings: `{"attributes": {"department": "Engineering"}}`.

use serde_json::{Map, Value};
use wasmhook_sdk::saml::{Decision, Request, Rule};
use wasmhook_sdk::serde_json;

#[derive(serde::Deserialize)]
struct Settings {
    attributes: Map<String, Value>,
}

struct SamlAttributes;

impl Rule for SamlAttributes {
    /// Refuses, when the route loads, settings without an object of attribute names and values.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| "`attributes` must be an object of attribute names and values".into())
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let mut decision = Decision::no_change();
        for (name, value) in settings.attributes {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            decision = decision.add_attribute(&name, &text);
        }
        Ok(decision)
    }
}

wasmhook_sdk::export_saml_rule!(SamlAttributes);
