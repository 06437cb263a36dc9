//! OAuth 2.0 bearer authentication: Okta gets an access token from the admin's authorization
//! server and sends it as `Authorization: Bearer <JWT>` on every call.
//!
//! The checks are the standard ones for an Okta custom authorization server:
//! - the scheme is `Bearer` (any case), anchored, followed by exactly one token;
//! - the signing key is chosen by `kid` from the server's JWKS, and the only algorithm accepted is
//!   the one that key is for (RS256 for RSA keys, ES256 for P-256 keys): `none`, HMAC (including
//!   HS256 "signed" with the public key) and any mismatch are refused;
//! - `iss` and `aud` equal the configured values, `exp` is in the future and `nbf` in the past,
//!   with a small leeway;
//! - optionally `cid` is an allowed client id and `scp` holds the required scope.
//!
//! The JWKS is cached. An unknown `kid` (a key rotation) triggers a refetch, at most once per
//! `jwks_min_refresh_seconds`, so a flood of forged tokens cannot hammer the authorization server.
//! The cache survives reloads while the tenant's issuer and JWKS URL stay the same: a reload
//! must never lock a tenant out because its authorization server happens to be unreachable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use http::header::AUTHORIZATION;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use super::{AuthError, single};
use crate::config::{BearerConfig, JwksSource};

/// Keys older than this are refetched even when the `kid` is known (revoked keys disappear).
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// A JWKS fetch must leave time to answer within Okta's 3 s.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(1);
const JWKS_MAX_BYTES: usize = 256 << 10;

pub struct BearerAuth {
    issuer: String,
    audience: String,
    allowed_client_ids: Vec<String>,
    required_scope: Option<String>,
    leeway_seconds: u64,
    /// Shared with the tenant's previous version while issuer and source are unchanged.
    jwks: Arc<Jwks>,
    jwks_min_refresh: Duration,
}

/// The claims checked beyond the standard ones.
#[derive(Deserialize)]
struct OktaClaims {
    /// jsonwebtoken also accepts an array of issuers; a token names exactly one.
    #[serde(default)]
    iss: Option<serde_json::Value>,
    cid: Option<String>,
    /// Okta sends an array; other servers a space-separated string.
    #[serde(default)]
    scp: Option<serde_json::Value>,
}

impl BearerAuth {
    /// Builds the authenticator, keeping `previous`'s cached keys when it trusted the same issuer
    /// and fetched them from the same URL.
    pub fn new(config: &BearerConfig, previous: Option<&BearerAuth>) -> Result<Self, String> {
        let kept = previous.filter(|old| {
            old.issuer == config.issuer
                && matches!((&old.jwks.url, &config.jwks), (Some(old), JwksSource::Url(new)) if old == new)
        });
        let jwks = match kept {
            Some(old) => old.jwks.clone(),
            None => Arc::new(Jwks::new(&config.jwks)?),
        };
        Ok(BearerAuth {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            allowed_client_ids: config.allowed_client_ids.clone(),
            required_scope: config.required_scope.clone(),
            leeway_seconds: config.leeway_seconds,
            jwks,
            jwks_min_refresh: config.jwks_min_refresh,
        })
    }

    pub async fn verify(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let token = bearer_token(single(headers, &AUTHORIZATION)?)?;
        let header = decode_header(token).map_err(|_| AuthError::NotBearer)?;
        let kid = header.kid.ok_or_else(|| invalid("it has no `kid`"))?;
        let jwk = self.jwks.key(&kid, self.jwks_min_refresh).await?;
        let algorithm = algorithm_for(&jwk)?;
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|e| invalid(format!("unusable JWKS key: {e}")))?;

        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_seconds;
        let claims = decode::<OktaClaims>(token, &key, &validation)
            .map_err(|e| invalid(e.to_string()))?
            .claims;

        if !matches!(claims.iss, Some(serde_json::Value::String(_))) {
            return Err(invalid("`iss` is not a single string"));
        }
        if !self.allowed_client_ids.is_empty()
            && !claims
                .cid
                .as_ref()
                .is_some_and(|cid| self.allowed_client_ids.contains(cid))
        {
            return Err(invalid("`cid` is not an allowed client id"));
        }
        if let Some(scope) = &self.required_scope {
            let granted = match &claims.scp {
                Some(serde_json::Value::Array(scopes)) => {
                    scopes.iter().any(|s| s == scope.as_str())
                }
                Some(serde_json::Value::String(scopes)) => scopes.split(' ').any(|s| s == scope),
                _ => false,
            };
            if !granted {
                return Err(invalid(format!("`scp` lacks the scope `{scope}`")));
            }
        }
        Ok(())
    }
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidToken(reason.into())
}

/// The token of `Bearer <token>`: the scheme anchored at the start, one space, one token.
fn bearer_token(value: &[u8]) -> Result<&str, AuthError> {
    let value = std::str::from_utf8(value).map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::NotBearer)?;
    let token_chars = |c: char| c.is_ascii_alphanumeric() || "-_.=".contains(c);
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || !token.chars().all(token_chars)
    {
        return Err(AuthError::NotBearer);
    }
    Ok(token)
}

/// The one algorithm a key may verify: RS256 for RSA, ES256 for P-256. A key that names another
/// algorithm, or of another type, verifies nothing.
fn algorithm_for(jwk: &Jwk) -> Result<Algorithm, AuthError> {
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return Err(invalid("the JWKS key is neither RSA nor P-256")),
    };
    match jwk.common.key_algorithm.map(|a| a.to_string()) {
        Some(named) if named != format!("{algorithm:?}") => Err(invalid(format!(
            "the JWKS key is for {named}, not {algorithm:?}"
        ))),
        _ => Ok(algorithm),
    }
}

/// The authorization server's signing keys, from a URL (cached, refetched on rotation) or a file.
struct Jwks {
    url: Option<url::Url>,
    keys: std::sync::RwLock<JwkSet>,
    /// When the keys were last fetched from `url`; also serialises fetches.
    fetched_at: tokio::sync::Mutex<Option<Instant>>,
    client: reqwest::Client,
}

impl Jwks {
    fn new(source: &JwksSource) -> Result<Self, String> {
        let (url, keys) = match source {
            JwksSource::File(path) => {
                let text = std::fs::read(path)
                    .map_err(|e| format!("cannot read the JWKS file {}: {e}", path.display()))?;
                let keys = serde_json::from_slice(&text)
                    .map_err(|e| format!("{} is not a JWKS: {e}", path.display()))?;
                (None, keys)
            }
            JwksSource::Url(url) => (Some(url.clone()), JwkSet { keys: Vec::new() }),
        };
        let client = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Jwks {
            url,
            keys: std::sync::RwLock::new(keys),
            fetched_at: tokio::sync::Mutex::new(None),
            client,
        })
    }

    fn find(&self, kid: &str) -> Option<Jwk> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .find(kid)
            .cloned()
    }

    /// The key `kid`, fetching the JWKS first if it is unknown or old (and the last fetch is at
    /// least `min_refresh` ago).
    async fn key(&self, kid: &str, min_refresh: Duration) -> Result<Jwk, AuthError> {
        let Some(url) = &self.url else {
            return self.find(kid).ok_or(AuthError::UnknownKey);
        };
        let mut fetched_at = self.fetched_at.lock().await;
        let age = fetched_at.map(|at| at.elapsed());
        let known = self.find(kid);
        let needed = match (&known, age) {
            (_, None) => true,
            (None, Some(age)) => age >= min_refresh,
            (Some(_), Some(age)) => age >= JWKS_MAX_AGE,
        };
        if needed {
            *fetched_at = Some(Instant::now());
            match self.fetch(url).await {
                Ok(keys) => *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys,
                Err(error) => {
                    tracing::warn!(%url, %error, "cannot fetch the JWKS; keeping the cached keys")
                }
            }
        }
        drop(fetched_at);
        self.find(kid).ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self, url: &url::Url) -> Result<JwkSet, String> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let response = response.error_for_status().map_err(|e| e.to_string())?;
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > JWKS_MAX_BYTES {
            return Err(format!("the JWKS is larger than {JWKS_MAX_BYTES} bytes"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("not a JWKS: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_anchored_case_insensitive_and_takes_one_token() {
        assert_eq!(bearer_token(b"Bearer a.b.c").unwrap(), "a.b.c");
        assert_eq!(bearer_token(b"bearer a.b-_c=").unwrap(), "a.b-_c=");
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer a b",
            b"Basic a.b.c",
            b"xBearer a.b.c",
            b"Bearer  a.b.c",
        ] {
            assert!(
                bearer_token(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
