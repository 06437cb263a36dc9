//! Authenticating Okta's calls with the tenant's header secret.
//!
//! Okta sends the configured header with the configured value verbatim on every call (for Basic,
//! the `Basic ` prefix is part of the secret). The whole value is compared as raw bytes in constant
//! time, without decoding anything, against every accepted secret, so that a rotation can accept
//! the old and the new secret at once.

use http::{HeaderMap, HeaderName};
use subtle::ConstantTimeEq;

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

    /// Whether `headers` carry exactly one value of the header, equal to an accepted secret.
    pub fn verify(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.header).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false; // missing, or sent twice (ambiguous)
        };
        // Check every secret, without stopping at the first match, so timing reveals nothing
        // about which one matched.
        self.secrets.iter().fold(0u8, |matched, secret| {
            matched | secret.as_slice().ct_eq(value.as_bytes()).unwrap_u8()
        }) == 1
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
        assert!(auth(&[BASIC]).verify(&map));
    }

    #[test]
    fn rejects_missing_wrong_prefixed_or_duplicated_values() {
        let auth = auth(&[BASIC]);
        assert!(!auth.verify(&headers(&[])));
        assert!(!auth.verify(&headers(&[("authorization", "YWRtaW46c3VwZXJzZWNyZXQ=")])));
        assert!(!auth.verify(&headers(&[(
            "authorization",
            "basic YWRtaW46c3VwZXJzZWNyZXQ="
        )])));
        assert!(!auth.verify(&headers(&[("authorization", &format!("{BASIC}x"))])));
        assert!(!auth.verify(&headers(&[("x-other", BASIC)])));
        assert!(!auth.verify(&headers(&[
            ("authorization", BASIC),
            ("authorization", BASIC)
        ])));
    }

    #[test]
    fn accepts_every_secret_of_a_rotation() {
        let auth = auth(&["old-secret", "new-secret"]);
        assert!(auth.verify(&headers(&[("authorization", "old-secret")])));
        assert!(auth.verify(&headers(&[("authorization", "new-secret")])));
        assert!(!auth.verify(&headers(&[("authorization", "other-secret")])));
    }
}
