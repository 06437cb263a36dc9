//! Shapes shared by several hook types, as the host sees them. They mirror `wit/types.wit`, but
//! they are the protocol's own types: the runtime converts them to and from the guest bindings.

/// One attribute of an Okta user profile; its value is the exact JSON text (`"1234"` and
/// `1234` stay different).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// The end user's HTTP request that triggered the hook (`data.context.request`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub id: Option<String>,
    pub method: Option<String>,
    pub ip_address: Option<String>,
    /// `url.value`.
    pub url: Option<String>,
}

/// The Okta user a call is about (`data.context.user`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    pub id: Option<String>,
    pub password_changed: Option<String>,
    pub profile: Vec<Attribute>,
}

/// The end user's Okta session (`data.context.session`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub id: Option<String>,
    pub user_id: Option<String>,
    pub login: Option<String>,
    pub status: Option<String>,
    pub created_at: Option<String>,
    pub expires_at: Option<String>,
    pub amr: Vec<String>,
    pub idp_id: Option<String>,
    pub idp_type: Option<String>,
    pub mfa_active: Option<bool>,
}

/// One cause of an `error` (`errorCauses[]`); Okta requires all five fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCause {
    pub error_summary: String,
    pub reason: String,
    pub location_type: String,
    pub location: String,
    pub domain: String,
}

/// The `error` member of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    pub error_summary: String,
    pub error_causes: Vec<ErrorCause>,
}

/// What a JSON Patch operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Replace,
    Remove,
}

/// One operation of a patch command, as the rule wrote it (checked when rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchOperation {
    pub op: PatchOp,
    /// A JSON Pointer (RFC 6901).
    pub path: String,
    /// JSON text.
    pub value: Option<String>,
}
