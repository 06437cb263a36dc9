//! HTTPS on the hook listener: Okta calls only `https://` URLs, so either a proxy in front ends
//! TLS or the server does, with the certificate and key named by `[tls]` in the config.
//!
//! rustls (through tokio-rustls, with the *ring* provider reqwest already brings) offers TLS 1.3
//! and 1.2 with their modern cipher suites only, and no older protocol. The certificate sits
//! behind a resolver that each handshake asks, so a reload swaps it in place: connections already
//! open keep their session, new handshakes get the new certificate, and nothing is dropped. As
//! with rules, a certificate or key that cannot be loaded never replaces a working one: the last
//! good pair keeps serving and the error shows in the log and the status.
//!
//! The key file's contents never reach a message: errors name the file and what is wrong with it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// `[tls]`: the PEM files of the hook listener's certificate chain (leaf first) and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a certificate and key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate file {}: {reason}", .file.display())]
    Certificate { file: PathBuf, reason: String },
    #[error("cannot read the key file {}: {reason}", .file.display())]
    Key { file: PathBuf, reason: String },
    #[error("the key in {} does not belong to the certificate in {}", .key.display(), .cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// The certificate a handshake gets, swappable while connections use it.
#[derive(Debug)]
pub struct Certificates {
    current: ArcSwap<CertifiedKey>,
    loaded: Mutex<Loaded>,
}

/// Which files serve, and what the status shows of them: never the key.
#[derive(Debug, Clone)]
struct Loaded {
    files: TlsConfig,
    sha256: String,
    at: SystemTime,
    error: Option<String>,
}

impl Certificates {
    /// Loads `files`, or says why they cannot serve.
    pub fn load(files: &TlsConfig) -> Result<Arc<Certificates>, TlsError> {
        let key = read(files)?;
        Ok(Arc::new(Certificates {
            loaded: Mutex::new(Loaded {
                files: files.clone(),
                sha256: fingerprint(&key),
                at: SystemTime::now(),
                error: None,
            }),
            current: ArcSwap::from_pointee(key),
        }))
    }

    /// Reads `files` (after a change, or a reload) and serves them from the next handshake on,
    /// returning whether the certificate changed; if they cannot be loaded, the current pair
    /// keeps serving and the status shows why.
    pub fn reload(&self, files: &TlsConfig) -> Result<bool, TlsError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        match read(files) {
            Ok(key) => {
                let sha256 = fingerprint(&key);
                let changed = sha256 != loaded.sha256;
                if changed {
                    self.current.store(Arc::new(key));
                    loaded.at = SystemTime::now();
                    loaded.sha256 = sha256;
                }
                loaded.files = files.clone();
                loaded.error = None;
                Ok(changed)
            }
            Err(error) => {
                loaded.error = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// For the admin status: the serving certificate's file and sha256, since when it serves,
    /// and why the last attempt to load another failed.
    pub fn status(&self) -> serde_json::Value {
        let loaded = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        serde_json::json!({
            "certificate": loaded.files.cert.display().to_string(),
            "sha256": loaded.sha256,
            "serving_since": humantime::format_rfc3339_seconds(loaded.at).to_string(),
            "last_error": loaded.error,
        })
    }

    /// Why the last attempt to load the files failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        let loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded.error.clone()
    }

    /// The rustls configuration for the hook listener: TLS 1.3 and 1.2, HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&versions)
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The chain and key of `files`, checked to belong together.
fn read(files: &TlsConfig) -> Result<CertifiedKey, TlsError> {
    let certificate_error = |reason: String| TlsError::Certificate {
        file: files.cert.clone(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|error| certificate_error(pem_reason(&error)))?
        .collect::<Result<_, _>>()
        .map_err(|error| certificate_error(pem_reason(&error)))?;
    if chain.is_empty() {
        return Err(certificate_error("no PEM certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| TlsError::Key {
        file: files.key.clone(),
        reason: pem_reason(&error),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|error| match error {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        },
        other => TlsError::Key {
            file: files.key.clone(),
            reason: format!("unusable key ({other})"),
        },
    })
}

/// What went wrong reading a PEM file, without quoting it (a parse error can carry a line of
/// the file, which for the key file is the key).
fn pem_reason(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::Io(error) => error.to_string(),
        Error::NoItemsFound => "no PEM item of the expected kind in it".into(),
        _ => "not valid PEM".into(),
    }
}

/// sha256 of the leaf certificate, as `openssl x509 -fingerprint -sha256` shows it (lowercase,
/// without colons).
fn fingerprint(key: &CertifiedKey) -> String {
    let leaf = key
        .end_entity_cert()
        .map(|cert| cert.as_ref())
        .unwrap_or(&[]);
    Sha256::digest(leaf)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
