//! Self-service registration: allow only email addresses whose domain is exactly one of
//! `allowed_domains` (case-insensitive; subdomains and look-alikes such as `evilexample.com` are refused).
//!
//! Settings: `{"allowed_domains": ["example.com"]}`.

use wasmhook_sdk::registration::{Decision, ProfileExt, Request, Rule};

#[derive(serde::Deserialize)]
struct Settings {
    allowed_domains: Vec<String>,
}

struct EmailDomain;

impl Rule for EmailDomain {
    /// Refuses settings without a list of domains when the route loads, instead of failing
    /// every call. The message names the key and never repeats the value.
    fn validate_settings(settings: &str) -> Result<(), String> {
        wasmhook_sdk::parse_settings::<Settings>(settings)
            .map(drop)
            .map_err(|_| "`allowed_domains` must be a list of email domains (strings)".into())
    }

    fn evaluate(request: Request) -> Result<Decision, String> {
        let settings: Settings = request.settings()?;
        let allowed = |domain: &str| {
            settings
                .allowed_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        };
        if request
            .submitted()
            .email_domain()
            .is_some_and(|domain| allowed(&domain))
        {
            return Ok(Decision::allow());
        }
        let domains = settings.allowed_domains.join(", ");
        Ok(
            Decision::deny("Incorrect email address. Please contact your admin.").field_error(
                Request::field_location("email"),
                "INVALID_EMAIL_DOMAIN",
                format!("Only emails from {domains} can register."),
            ),
        )
    }
}

wasmhook_sdk::export_registration_rule!(EmailDomain);
