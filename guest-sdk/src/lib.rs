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
//! - [`password_import`]: the password import hook (`com.okta.user.credential.password.import`).
//! - [`telephony`]: the telephony hook (`com.okta.telephony.provider`).
//! - [`user_import`]: the user import hook (`com.okta.import.transform`).
//! - [`event`]: event hooks (`com.okta.event_hook`), one System Log event at a time.
//! - [`types`]: shapes every hook shares (profile attributes, sessions, patch operations, errors).
//! - [`log`]: structured logging into the server's log, tagged with the request.
//! - `http`: outbound HTTP requests, on routes that grant them (WebAssembly builds only).
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

pub mod event;
#[cfg(target_arch = "wasm32")]
pub mod http;
pub mod password_import;
mod profile;
pub mod registration;
pub mod saml;
#[doc(hidden)]
pub mod shared;
pub mod telephony;
pub mod token;
pub mod user_import;

pub use profile::{ProfileExt, email_domain};
/// The JSON library the SDK uses for settings and attribute values, re-exported for rules.
pub use serde_json;
/// The types every hook shares (`wasmhook:rule/types`).
pub use shared::wasmhook::rule::types;

/// Exports a type implementing [`registration::Rule`] as the component's registration hook
/// (`wasmhook:rule/registration`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_registration_rule {
    ($rule:ty) => {
        $crate::__export_rule!($rule, registration, export_registration_bindings);
    };
}

/// Exports a type implementing [`token::Rule`] as the component's token hook
/// (`wasmhook:rule/token`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_token_rule {
    ($rule:ty) => {
        $crate::__export_rule!($rule, token, export_token_bindings);
    };
}

/// Exports a type implementing [`saml::Rule`] as the component's SAML assertion hook
/// (`wasmhook:rule/saml`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_saml_rule {
    ($rule:ty) => {
        $crate::__export_rule!($rule, saml, export_saml_bindings);
    };
}

/// Exports a type implementing [`password_import::Rule`] as the component's password import hook
/// (`wasmhook:rule/password-import`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_password_import_rule {
    ($rule:ty) => {
        $crate::__export_rule!($rule, password_import, export_password_import_bindings);
    };
}

/// Exports a type implementing [`telephony::Rule`] as the component's telephony hook
/// (`wasmhook:rule/telephony`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_telephony_rule {
    ($rule:ty) => {
        $crate::__export_rule!($rule, telephony, export_telephony_bindings);
    };
}

/// Exports a type implementing [`user_import::Rule`] as the component's user import hook
/// (`wasmhook:rule/user-import`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_user_import_rule {
    ($rule:ty) => {
        $crate::__export_rule!($rule, user_import, export_user_import_bindings);
    };
}

/// Exports a type implementing [`event::Rule`] as the component's event hook handler
/// (`wasmhook:rule/event`) and its settings check (`wasmhook:rule/settings`).
#[macro_export]
macro_rules! export_event_rule {
    ($rule:ty) => {
        const _: () = {
            struct WasmhookRule;

            impl $crate::event::bindings::exports::wasmhook::rule::event::Guest for WasmhookRule {
                fn handle(
                    request: $crate::event::Request,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    <$rule as $crate::event::Rule>::handle(request)
                }
            }

            impl $crate::shared::settings::exports::wasmhook::rule::settings::Guest for WasmhookRule {
                fn validate_settings(
                    settings: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    <$rule as $crate::event::Rule>::validate_settings(&settings)
                }
            }

            $crate::event::bindings::export_event_bindings!(WasmhookRule with_types_in $crate::event::bindings);
            $crate::shared::settings::export_settings!(WasmhookRule with_types_in $crate::shared::settings);
        };
    };
}

/// What the export macros expand to: a type implementing the generated traits of the hook's
/// interface and of `settings` by calling the rule's [`Rule`](registration::Rule) methods, and
/// the generated exports for it (the hook's, then the settings interface's, generated once in
/// `shared`).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_rule {
    ($rule:ty, $hook:ident, $bindings_export:ident) => {
        const _: () = {
            struct WasmhookRule;

            impl $crate::$hook::bindings::exports::wasmhook::rule::$hook::Guest for WasmhookRule {
                fn evaluate(
                    request: $crate::$hook::Request,
                ) -> ::core::result::Result<$crate::$hook::Decision, ::std::string::String> {
                    <$rule as $crate::$hook::Rule>::evaluate(request)
                }
            }

            impl $crate::shared::settings::exports::wasmhook::rule::settings::Guest for WasmhookRule {
                fn validate_settings(
                    settings: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    <$rule as $crate::$hook::Rule>::validate_settings(&settings)
                }
            }

            $crate::$hook::bindings::$bindings_export!(WasmhookRule with_types_in $crate::$hook::bindings);
            $crate::shared::settings::export_settings!(WasmhookRule with_types_in $crate::shared::settings);
        };
    };
}

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

/// A route's settings (JSON text) as `T`, or a message fit for the rule's `Err`: what a rule's
/// `validate_settings` needs to check that they fit the type its `evaluate` reads them into.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     allowed_domains: Vec<String>,
/// }
///
/// fn validate_settings(settings: &str) -> Result<(), String> {
///     wasmhook_sdk::parse_settings::<Settings>(settings).map(drop)
/// }
/// assert!(validate_settings(r#"{"allowed_domains": ["example.com"]}"#).is_ok());
/// assert!(validate_settings(r#"{"allowed_domains": "example.com"}"#).is_err());
/// ```
///
/// The message is serde's, which may quote the offending value: a rule whose settings hold
/// secrets writes its own.
pub fn parse_settings<T: serde::de::DeserializeOwned>(settings: &str) -> Result<T, String> {
    serde_json::from_str(settings).map_err(|e| format!("invalid rule settings: {e}"))
}

/// An `error` with only a summary, as the token and SAML hooks take it.
fn summary_error(summary: impl Into<String>) -> types::HookError {
    types::HookError {
        error_summary: summary.into(),
        error_causes: Vec::new(),
    }
}
