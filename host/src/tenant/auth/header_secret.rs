//! Header-secret authentication.
//!
//! Okta sends the configured header with the configured value verbatim on every call (for Basic,
//! the `Basic ` prefix is part of the secret). The whole value is compared as raw bytes in constant
//! time, without decoding anything, against every accepted secret, so that a rotation can accept
//! the old and the new secret at once.

use http::{HeaderMap, HeaderName};
use subtle::ConstantTimeEq;

use super::{AuthError, single};
use crate::config::HeaderSecretConfig;

pub struct HeaderSecret {
    header: HeaderName,
    secrets: Vec<Vec<u8>>,
}

impl HeaderSecret {
    pub fn new(config: &HeaderSecretConfig) -> Self {
        let secrets = config
            .secrets
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        HeaderSecret {
            header: config.header.clone(),
            secrets,
        }
    }

    /// Accepts `headers` if they carry exactly one value of the header, equal to a secret.
    pub fn verify(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let value = single(headers, &self.header)?;
        // Check every secret, without stopping at the first match, so timing reveals nothing
        // about which one matched.
        let matched = self.secrets.iter().fold(0u8, |matched, secret| {
            matched | secret.as_slice().ct_eq(value).unwrap_u8()
        });
        if matched == 1 {
            Ok(())
        } else {
            Err(AuthError::WrongSecret)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASIC: &str = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";

    fn auth(secrets: &[&str]) -> HeaderSecret {
        HeaderSecret::new(&HeaderSecretConfig {
            header: HeaderName::from_static("authorization"),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn accepts_the_exact_value_under_any_header_name_case() {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_bytes(b"Authorization").unwrap(),
            BASIC.parse().unwrap(),
        );
        assert!(auth(&[BASIC]).verify(&map).is_ok());
    }

    #[test]
    fn rejects_missing_wrong_prefixed_or_duplicated_values() {
        let auth = auth(&[BASIC]);
        let wrong = |pairs: &[(&'static str, &str)]| match auth.verify(&headers(pairs)) {
            Err(error) => error.kind(),
            Ok(()) => "accepted",
        };
        assert_eq!(wrong(&[]), "missing");
        assert_eq!(wrong(&[("x-other", BASIC)]), "missing");
        assert_eq!(
            wrong(&[("authorization", BASIC), ("authorization", BASIC)]),
            "missing"
        );
        assert_eq!(
            wrong(&[("authorization", "YWRtaW46c3VwZXJzZWNyZXQ=")]),
            "wrong_secret"
        );
        assert_eq!(
            wrong(&[("authorization", "basic YWRtaW46c3VwZXJzZWNyZXQ=")]),
            "wrong_secret"
        );
        assert_eq!(
            wrong(&[("authorization", &format!("{BASIC}x"))]),
            "wrong_secret"
        );
    }

    #[test]
    fn accepts_every_secret_of_a_rotation() {
        let auth = auth(&["old-secret", "new-secret"]);
        assert!(
            auth.verify(&headers(&[("authorization", "old-secret")]))
                .is_ok()
        );
        assert!(
            auth.verify(&headers(&[("authorization", "new-secret")]))
                .is_ok()
        );
        assert!(
            auth.verify(&headers(&[("authorization", "other-secret")]))
                .is_err()
        );
    }
}
