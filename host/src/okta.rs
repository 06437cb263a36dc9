//! The Okta inline hook protocol: what Okta sends, and the JSON it accepts back.
//!
//! Parsing is lenient where Okta's own material is inconsistent (version fields as strings or
//! numbers, unknown fields ignored) and strict where a mistake would be silent: a request without an
//! `eventType` or a `data` object is rejected, and every decision a rule returns is checked against
//! what Okta accepts for that hook before it is sent (see [`response`]).

pub mod request;
pub mod response;

pub use request::{HookCall, ParseError};
pub use response::{Answer, FailurePolicy};

/// `eventType` of the registration inline hook (self-service registration and progressive profile).
pub const REGISTRATION: &str = "com.okta.user.pre-registration";
/// `eventType` of the password import inline hook.
pub const PASSWORD_IMPORT: &str = "com.okta.user.credential.password.import";

/// `requestType` of Identity Engine self-service registration (Classic Engine sends none).
pub const SELF_SERVICE_REGISTRATION: &str = "self.service.registration";
/// `requestType` of Identity Engine progressive profiling.
pub const PROGRESSIVE_PROFILE: &str = "progressive.profile";
