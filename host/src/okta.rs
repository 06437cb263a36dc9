//! The Okta inline hook protocol at the wire level, shared by every hook type: the envelope,
//! lenient parsing, the shapes several hooks share, JSON Patch operations, and the answers Okta
//! accepts. What is particular to one hook type lives in its module under `crate::hooks`.
//!
//! Parsing is lenient where Okta's own material is inconsistent (version fields as strings or
//! numbers, unknown fields ignored) and strict where a mistake would be silent: a request without an
//! `eventType` or a `data` object is rejected, and every decision a rule returns is checked against
//! what Okta accepts for that hook before it is sent.

pub mod patch;
pub mod request;
pub mod response;
mod types;
pub mod wire;

pub use request::{Envelope, HookCall, ParseError};
pub use response::{Answer, FailurePolicy, MAX_RESPONSE_BYTES, Refusal};
pub use types::{
    Attribute, ErrorCause, HookError, PatchOp, PatchOperation, RequestContext, Session, User,
};
