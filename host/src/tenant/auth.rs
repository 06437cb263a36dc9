//! Authenticating Okta's calls, per tenant: a header secret or an OAuth 2.0 bearer token.
//!
//! A failure is always answered `401` without detail; the reason goes to the log (never the
//! credential itself).

mod bearer;
mod header_secret;

use http::HeaderMap;

pub use bearer::BearerAuth;
pub use header_secret::HeaderSecret;

use crate::config::AuthConfig;

/// How a tenant's calls are authenticated.
pub enum Authenticator {
    HeaderSecret(HeaderSecret),
    Bearer(BearerAuth),
}

/// Why a call was not authenticated. For logs and metrics only: the caller learns nothing.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the credential header is missing or sent more than once")]
    Missing,
    #[error("the header secret does not match")]
    WrongSecret,
    #[error("the Authorization header is not `Bearer <JWT>`")]
    NotBearer,
    #[error("no key in the authorization server's JWKS has this token's `kid`")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    InvalidToken(String),
}

impl AuthError {
    /// A short, stable name for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::WrongSecret => "wrong_secret",
            AuthError::NotBearer => "not_bearer",
            AuthError::UnknownKey => "unknown_key",
            AuthError::InvalidToken(_) => "invalid_token",
        }
    }
}

impl Authenticator {
    /// Builds the authenticator; reads a JWKS file now, so a bad one fails the tenant's load.
    /// `previous` is the tenant's authenticator before a reload: a bearer tenant keeps its cached
    /// keys while issuer and JWKS URL are unchanged.
    pub fn new(config: &AuthConfig, previous: Option<&Authenticator>) -> Result<Self, String> {
        Ok(match config {
            AuthConfig::HeaderSecret(config) => {
                Authenticator::HeaderSecret(HeaderSecret::new(config))
            }
            AuthConfig::Bearer(config) => {
                let previous = match previous {
                    Some(Authenticator::Bearer(old)) => Some(old),
                    _ => None,
                };
                Authenticator::Bearer(BearerAuth::new(config, previous)?)
            }
        })
    }

    pub async fn verify(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        match self {
            Authenticator::HeaderSecret(secret) => secret.verify(headers),
            Authenticator::Bearer(bearer) => bearer.verify(headers).await,
        }
    }
}

/// The single value of header `name`, or `Missing` when it is absent or repeated (ambiguous).
fn single<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> Result<&'a [u8], AuthError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value.as_bytes()),
        _ => Err(AuthError::Missing),
    }
}
