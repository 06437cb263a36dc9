//! The email-domain rule against the frozen 0.1.0 contract: the same decisions as
//! rules/email-domain, written with the raw bindings of `tests/fixtures/wit-0.1.0/rule.wit`.

wit_bindgen::generate!({ path: "../../tests/fixtures/wit-0.1.0", world: "registration-rule" });

use exports::wasmhook::rule::registration::{Command, Decision, Flow, Guest, Request};
use wasmhook::rule::types::{ErrorCause, HookError};

struct EmailDomain;

impl Guest for EmailDomain {
    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: serde_json::Value = serde_json::from_str(&request.settings)
            .map_err(|e| format!("invalid rule settings: {e}"))?;
        let allowed: Vec<String> = settings["allowed_domains"]
            .as_array()
            .ok_or("invalid rule settings: missing field `allowed_domains`")?
            .iter()
            .filter_map(|d| d.as_str().map(str::to_owned))
            .collect();
        let submitted = match request.flow {
            Flow::SelfServiceRegistration => &request.user_profile,
            Flow::ProgressiveProfile => &request.user_profile_update,
        };
        let email = submitted
            .iter()
            .find(|a| a.name == "email")
            .and_then(|a| serde_json::from_str::<String>(&a.value).ok());
        let domain = email.as_deref().and_then(|email| {
            let (local, domain) = email.trim().rsplit_once('@')?;
            (!local.is_empty() && !domain.is_empty()).then(|| domain.to_ascii_lowercase())
        });
        if domain.is_some_and(|d| allowed.iter().any(|a| a.eq_ignore_ascii_case(&d))) {
            return Ok(Decision {
                commands: vec![],
                error: None,
                debug_context: None,
            });
        }
        let cause = ErrorCause {
            error_summary: format!("Only emails from {} can register.", allowed.join(", ")),
            reason: "INVALID_EMAIL_DOMAIN".into(),
            location_type: "body".into(),
            location: "data.userProfile.email".into(),
            domain: "end-user".into(),
        };
        Ok(Decision {
            commands: vec![Command::Deny],
            error: Some(HookError {
                error_summary: "Incorrect email address. Please contact your admin.".into(),
                error_causes: vec![cause],
            }),
            debug_context: None,
        })
    }
}

export!(EmailDomain);
