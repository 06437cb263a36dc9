//! Write [wasmhook] rules for Okta inline hooks in Rust.
//!
//! A rule is a `cdylib` crate built for `wasm32-wasip2`. It implements one trait per hook type and
//! exports itself with the matching macro. The server gives it a typed request and the route's
//! settings; the rule answers with a [`Decision`](registration::Decision) built from the helpers
//! below, which produce exactly what Okta expects (for example a denial is a DENY command *and* an
//! `error`, since Okta only shows field errors when an `error` is present).
//!
//! ```no_run
//! use wasmhook_sdk::registration::{Decision, ProfileExt, Request, Rule};
//!
//! struct AllowExampleCom;
//!
//! impl Rule for AllowExampleCom {
//!     fn evaluate(request: Request) -> Result<Decision, String> {
//!         if request.user_profile.email_domain().as_deref() == Some("example.com") {
//!             return Ok(Decision::allow());
//!         }
//!         Ok(Decision::deny("Incorrect email address. Please contact your admin.")
//!             .field_error("data.userProfile.email", "INVALID_EMAIL_DOMAIN", "Only example.com emails can register."))
//!     }
//! }
//!
//! wasmhook_sdk::export_registration_rule!(AllowExampleCom);
//! ```
//!
//! # Layout
//! One module per hook type, each with its generated types, its `Rule` trait, decision builders
//! and an export macro; a rule crate uses one of them.
//! - [`registration`]: the registration hook (`com.okta.user.pre-registration`).
//! - [`token`]: the token hook (`com.okta.oauth2.tokens.transform`).
//! - [`saml`]: the SAML assertion hook (`com.okta.saml.tokens.transform`).
//! - [`types`]: shapes every hook shares (profile attributes, sessions, patch operations, errors).
//! - [`log`]: structured logging into the server's log, tagged with the request.
//! - [`ProfileExt`]: read helpers on profile attribute lists (values are JSON).
//!
//! The bindings are generated from the WIT package in `wit/` at build time; it is the single source
//! of truth for the contract, and nothing here is edited by hand from it.
//!
//! [wasmhook]: https://github.com/wasmhook/wasmhook

#![deny(missing_docs)]

/// The README's example rule, compiled as a doc test so it stays correct.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeExample;

mod profile;
pub mod registration;
pub mod saml;
#[doc(hidden)]
pub mod shared;
pub mod token;

pub use profile::{ProfileExt, email_domain};
/// Exports a type implementing [`registration::Rule`] as the component's registration hook.
pub use registration::bindings::export_registration_rule;
/// Exports a type implementing [`saml::Rule`] as the component's SAML assertion hook.
pub use saml::bindings::export_saml_rule;
/// The JSON library the SDK uses for settings and attribute values, re-exported for rules.
pub use serde_json;
/// The types every hook shares (`wasmhook:rule/types`).
pub use shared::wasmhook::rule::types;
/// Exports a type implementing [`token::Rule`] as the component's token hook.
pub use token::bindings::export_token_rule;

/// Structured logging into the server's log; each line is tagged with the request being evaluated.
///
/// Never log secrets or personal data (passwords, OTPs, profile values): operators read these lines.
pub mod log {
    use crate::shared::wasmhook::rule::log::log as host_log;
    use crate::types::Level;

    /// Logs `message` at debug level.
    pub fn debug(message: &str) {
        host_log(Level::Debug, message);
    }
    /// Logs `message` at info level.
    pub fn info(message: &str) {
        host_log(Level::Info, message);
    }
    /// Logs `message` at warn level.
    pub fn warn(message: &str) {
        host_log(Level::Warn, message);
    }
    /// Logs `message` at error level.
    pub fn error(message: &str) {
        host_log(Level::Error, message);
    }
}

/// Escapes `name` as one segment of a JSON Pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// A route's settings (JSON text) as `T`, or a message fit for the rule's `Err`.
fn settings<T: serde::de::DeserializeOwned>(settings: &str) -> Result<T, String> {
    serde_json::from_str(settings).map_err(|e| format!("invalid rule settings: {e}"))
}

/// An `error` with only a summary, as the token and SAML hooks take it.
fn summary_error(summary: impl Into<String>) -> types::HookError {
    types::HookError {
        error_summary: summary.into(),
        error_causes: Vec::new(),
    }
}
