//! Rules from an OCI registry: `rule = "oci://registry.example.com/team/email-domain@sha256:…"`.
//!
//! A ConfigMap holds at most 1 MiB and a Python rule is 18 MB, so a fleet of replicas gets its
//! rules the way the wasm ecosystem ships components (Spin, Kubewarden, wasmCloud): as OCI
//! artifacts, pushed once with `wasmhook push` and pulled by every replica.
//!
//! - **Verified, by digest.** A manifest is kept only if its bytes hash to the digest it is known
//!   by (the reference's `@sha256:…`, or for a tag the one the registry named), and the rule only
//!   if its bytes hash to the layer digest that manifest gives. Content that does not match is
//!   refused, never served.
//! - **Resolved once per reload.** A digest reference needs the registry only for its first
//!   pull; a tag is looked up again at each load (start-up, SIGHUP, a changed config), so
//!   re-tagging deploys at the next reload. Pinning digests is what the README recommends.
//! - **Offline after the first pull.** Manifests and rules are stored by digest in the local
//!   store (`<cache_dir>/oci`), with each tag's last digest: a restart while the registry is
//!   down serves the rules it pulled before (a tag from its last known digest, with a warning).
//! - **Credentials** come from `WASMHOOK_REGISTRY_USERNAME` / `WASMHOOK_REGISTRY_PASSWORD`, else
//!   from the docker config file (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, its
//!   credential helpers included), else none. They are never logged.
//! - **HTTPS**, except to a registry on a loopback address (a local development registry), which
//!   is spoken to over plain HTTP as docker does.
//!
//! The artifact is the wasm OCI layout of the CNCF wasm working group: an OCI image manifest
//! whose config is `application/vnd.wasm.config.v0+json` and whose one layer is the component,
//! `application/wasm`. Pulls also accept the older `application/vnd.wasm.content.layer.v1+wasm`
//! layer of wasm-to-oci and Kubewarden.
//!
//! The client is [`oci_client`] (the ORAS project's, used by Kubewarden and wasmCloud), on the
//! same reqwest and rustls build as the rest of the server.

mod auth;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::json;

use crate::config::{Config, RuleSource};
use crate::untrusted::GuestText;
use store::Store;

/// The scheme of a rule reference in the config and on the command line.
pub const SCHEME: &str = "oci://";
/// The manifest's config media type of a wasm artifact (CNCF wasm OCI artifact layout).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The layer media type of a wasm component.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The layer media type of wasm-to-oci and Kubewarden, accepted on pull.
const LEGACY_WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A manifest is a few hundred bytes; anything much larger is not one of ours.
const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// How much of a registry's error text reaches a log line or `/readyz`.
const MAX_ERROR_BYTES: usize = 300;

/// An `oci://registry/repository[:tag][@sha256:…]` rule reference. The registry must be named
/// (a host with a dot or a port, or `localhost`): a rule never comes from Docker Hub by accident.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleReference(Reference);

impl FromStr for RuleReference {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("an OCI rule reference starts with `{SCHEME}`"))?;
        let host = rest.split('/').next().unwrap_or_default();
        let names_a_registry =
            rest.contains('/') && (host.contains('.') || host.contains(':') || host == "localhost");
        if !names_a_registry {
            return Err(format!(
                "`{text}` does not name a registry: write `{SCHEME}registry.example.com/team/rule:tag` or `…@sha256:<digest>`"
            ));
        }
        let reference = Reference::from_str(rest)
            .map_err(|e| format!("`{text}` is not an OCI reference: {e}"))?;
        if let Some(digest) = reference.digest() {
            store::check_digest(digest).map_err(|e| format!("`{text}`: {e}"))?;
        }
        Ok(RuleReference(reference))
    }
}

impl fmt::Display for RuleReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.0.whole())
    }
}

impl RuleReference {
    /// The last segment of the repository, e.g. `email-domain`: the rule's name in logs and
    /// metric labels.
    pub fn name(&self) -> &str {
        let repository = self.0.repository();
        repository.rsplit('/').next().unwrap_or(repository)
    }

    /// This reference's repository pinned to `digest`, as a config should name it.
    pub fn pinned(&self, digest: &str) -> String {
        format!(
            "{SCHEME}{}/{}@{digest}",
            self.0.registry(),
            self.0.repository()
        )
    }

    /// The same repository at `digest`.
    fn at(&self, digest: &str) -> Reference {
        self.0.clone_with_digest(digest.to_owned())
    }

    fn registry(&self) -> &str {
        self.0.resolve_registry()
    }
}

/// A rule pulled into the local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The component, in the local store.
    pub file: PathBuf,
    /// The manifest's digest (`sha256:…`): what a tag resolved to, or the pinned digest.
    pub digest: String,
}

/// Why a rule could not be pulled; the message names the reference, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PullError(String);

/// Pulls rules into the local store and pushes them. Cheap to create; each operation opens its
/// own connection pool.
#[derive(Debug, Clone)]
pub struct Registry {
    /// `None` when the cache is turned off (`cache_dir = ""`): nothing can be pulled then.
    store: Option<Store>,
}

/// Where each `oci://` rule of a configuration was pulled to, or why it could not be.
#[derive(Debug, Default)]
pub struct PulledRules(HashMap<RuleReference, Result<Pulled, PullError>>);

impl PulledRules {
    /// The local file holding the rule of `source`, and for a pulled rule its manifest digest.
    pub fn file<'a>(
        &'a self,
        source: &'a RuleSource,
    ) -> Result<(&'a Path, Option<&'a str>), String> {
        match source {
            RuleSource::File(path) => Ok((path, None)),
            RuleSource::Oci(reference) => match self.0.get(reference) {
                Some(Ok(pulled)) => Ok((&pulled.file, Some(&pulled.digest))),
                Some(Err(error)) => Err(error.to_string()),
                None => Err(format!("{reference} was not pulled")),
            },
        }
    }
}

impl Registry {
    /// A registry client storing what it pulls under `<cache_dir>/oci`.
    pub fn new(cache_dir: Option<&Path>) -> Registry {
        Registry {
            store: cache_dir.map(|dir| Store::new(dir.join("oci"))),
        }
    }

    /// Pulls every `oci://` rule (and shadow rule) of `config`, each distinct reference once and
    /// all at once, each capped at the largest `max_module_bytes` of the routes that use it.
    pub async fn pull_all(&self, config: &Config) -> PulledRules {
        let mut wanted: HashMap<RuleReference, u64> = HashMap::new();
        for route in config.tenants.iter().flat_map(|tenant| &tenant.routes) {
            let sources = std::iter::once(&route.rule).chain(route.shadow.iter().map(|s| &s.rule));
            for source in sources {
                if let RuleSource::Oci(reference) = source {
                    let cap = wanted.entry(reference.clone()).or_default();
                    *cap = (*cap).max(route.limits.max_module_bytes);
                }
            }
        }
        let mut pulls = tokio::task::JoinSet::new();
        for (reference, max_bytes) in wanted {
            let registry = self.clone();
            pulls.spawn(async move {
                let pulled = registry.pull(&reference, max_bytes).await;
                (reference, pulled)
            });
        }
        let mut pulled = PulledRules::default();
        while let Some(done) = pulls.join_next().await {
            let (reference, result) = done.expect("a pull does not panic");
            pulled.0.insert(reference, result);
        }
        pulled
    }

    /// The local file of `source`: the file itself, or the rule pulled from its registry.
    pub async fn fetch(&self, source: &RuleSource, max_bytes: u64) -> Result<PathBuf, PullError> {
        match source {
            RuleSource::File(path) => Ok(path.clone()),
            RuleSource::Oci(reference) => Ok(self.pull(reference, max_bytes).await?.file),
        }
    }

    /// Pulls `reference` into the local store (or finds it there) and verifies it: the manifest
    /// against its digest, the rule against the manifest's layer digest. A rule over `max_bytes`
    /// is refused before it is downloaded.
    pub async fn pull(
        &self,
        reference: &RuleReference,
        max_bytes: u64,
    ) -> Result<Pulled, PullError> {
        let store = self.store.as_ref().ok_or_else(|| {
            PullError(format!(
                "{reference}: OCI rules are kept in the cache folder, which is turned off (cache_dir = \"\")"
            ))
        })?;
        let session = Session::new(reference);
        let digest = match reference.0.digest() {
            Some(digest) => digest.to_owned(),
            None => session.resolve_tag(store).await?,
        };
        let manifest = match store.read(&digest) {
            Some(bytes) => bytes,
            None => session.fetch_manifest(store, &digest).await?,
        };
        let layer = wasm_layer(&manifest).map_err(|e| session.error(e))?;
        if u64::try_from(layer.size).unwrap_or(u64::MAX) > max_bytes {
            return Err(session.error(format!(
                "the rule is {} bytes, over the route's max_module_bytes ({max_bytes})",
                layer.size
            )));
        }
        let file = match store.path_if_verified(&layer.digest) {
            Some(file) => file,
            None => {
                session
                    .fetch_layer(store, &digest, &layer, max_bytes)
                    .await?
            }
        };
        Ok(Pulled { file, digest })
    }

    /// Publishes `wasm` (a rule component) as a wasm OCI artifact at `reference`, with
    /// `annotations` on its manifest. Returns the manifest's digest.
    pub async fn push(
        &self,
        reference: &RuleReference,
        wasm: Vec<u8>,
        annotations: std::collections::BTreeMap<String, String>,
    ) -> Result<String, PullError> {
        let session = Session::new(reference);
        let layer_digest = store::digest_of(&wasm);
        let config = serde_json::to_vec(&json!({
            "created": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer_digest],
        }))
        .expect("a JSON value serialises");
        let descriptor = |media_type: &str, digest: String, size: usize| OciDescriptor {
            media_type: media_type.to_owned(),
            digest,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        };
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_owned()),
            config: descriptor(
                WASM_CONFIG_MEDIA_TYPE,
                store::digest_of(&config),
                config.len(),
            ),
            layers: vec![descriptor(
                WASM_LAYER_MEDIA_TYPE,
                layer_digest.clone(),
                wasm.len(),
            )],
            annotations: Some(annotations.into_iter().collect()),
            ..OciImageManifest::default()
        };
        let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
        let image = &reference.0;
        let client = &session.client;
        client
            .store_auth_if_needed(image.resolve_registry(), &session.auth)
            .await;
        client
            .push_blob(image, &wasm, &layer_digest)
            .await
            .map_err(|e| session.registry_error("pushing the rule", e))?;
        client
            .push_blob(image, &config, &store::digest_of(&config))
            .await
            .map_err(|e| session.registry_error("pushing the artifact's config", e))?;
        let digest = store::digest_of(&manifest);
        client
            .push_manifest_raw(
                image,
                manifest,
                http::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE),
            )
            .await
            .map_err(|e| session.registry_error("pushing the manifest", e))?;
        Ok(digest)
    }
}

/// One reference's conversation with its registry.
struct Session<'a> {
    reference: &'a RuleReference,
    client: Client,
    auth: RegistryAuth,
}

impl<'a> Session<'a> {
    fn new(reference: &'a RuleReference) -> Session<'a> {
        let registry = reference.registry();
        let protocol = if is_loopback(registry) {
            ClientProtocol::HttpsExcept(vec![registry.to_owned()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(5)),
            read_timeout: Some(Duration::from_secs(30)),
            ..ClientConfig::default()
        });
        Session {
            reference,
            client,
            auth: auth::credentials(registry),
        }
    }

    fn error(&self, message: impl fmt::Display) -> PullError {
        PullError(format!("{}: {message}", self.reference))
    }

    /// A registry's failure, its own text escaped and capped (a registry is not ours to trust).
    fn registry_error(&self, doing: &str, error: OciDistributionError) -> PullError {
        let text = match &error {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => {
                "the registry refused the credentials (WASMHOOK_REGISTRY_USERNAME / _PASSWORD, or the docker config)".to_owned()
            }
            other => GuestText::one_line(&other.to_string(), MAX_ERROR_BYTES).as_str().to_owned(),
        };
        self.error(format_args!("{doing}: {text}"))
    }

    /// The digest a tag names now; when the registry cannot be reached, the digest it named at
    /// the last pull, if any.
    async fn resolve_tag(&self, store: &Store) -> Result<String, PullError> {
        let accepted = [OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE];
        let answer = self
            .client
            .pull_manifest_raw(&self.reference.0, &self.auth, &accepted)
            .await;
        match answer {
            Ok((manifest, _)) => {
                let digest = store::digest_of(&manifest);
                self.keep_manifest(store, &digest, &manifest)?;
                store.remember_tag(&self.reference.to_string(), &digest);
                Ok(digest)
            }
            Err(error) if unreachable(&error) => {
                let last = store.last_digest(&self.reference.to_string());
                match last {
                    Some(digest) => {
                        tracing::warn!(
                            rule = %self.reference, %digest,
                            "registry unreachable; the tag's last pulled digest serves"
                        );
                        Ok(digest)
                    }
                    None => Err(self.registry_error("resolving the tag", error)),
                }
            }
            Err(error) => Err(self.registry_error("resolving the tag", error)),
        }
    }

    async fn fetch_manifest(&self, store: &Store, digest: &str) -> Result<Vec<u8>, PullError> {
        let accepted = [OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE];
        let (manifest, _) = self
            .client
            .pull_manifest_raw(&self.reference.at(digest), &self.auth, &accepted)
            .await
            .map_err(|e| self.registry_error("pulling the manifest", e))?;
        self.keep_manifest(store, digest, &manifest)?;
        Ok(manifest)
    }

    fn keep_manifest(&self, store: &Store, digest: &str, manifest: &[u8]) -> Result<(), PullError> {
        if manifest.len() > MAX_MANIFEST_BYTES {
            return Err(self.error(format!("the manifest is over {MAX_MANIFEST_BYTES} bytes")));
        }
        store
            .write(digest, manifest)
            .map(drop)
            .map_err(|e| self.error(format_args!("manifest {digest}: {e}")))
    }

    /// Downloads the rule, at most `max_bytes` of it, and keeps it if it matches its digest.
    async fn fetch_layer(
        &self,
        store: &Store,
        manifest_digest: &str,
        layer: &OciDescriptor,
        max_bytes: u64,
    ) -> Result<PathBuf, PullError> {
        use futures_util::StreamExt;
        let image = self.reference.at(manifest_digest);
        let mut stream = self
            .client
            .pull_blob_stream(&image, layer)
            .await
            .map_err(|e| self.registry_error("pulling the rule", e))?;
        let mut wasm = Vec::with_capacity(usize::try_from(layer.size).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.registry_error("pulling the rule", e.into()))?;
            wasm.extend_from_slice(&chunk);
            if wasm.len() as u64 > max_bytes {
                return Err(self.error(format!(
                    "the registry sent more than the route's max_module_bytes ({max_bytes})"
                )));
            }
        }
        store
            .write(&layer.digest, &wasm)
            .map_err(|e| self.error(format_args!("rule layer {}: {e}", layer.digest)))
    }
}

/// The one wasm layer of a manifest.
fn wasm_layer(manifest: &[u8]) -> Result<OciDescriptor, String> {
    let manifest: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|e| format!("not an OCI image manifest ({e}); an index or another artifact?"))?;
    let mut wasm = manifest.layers.into_iter().filter(|layer| {
        [WASM_LAYER_MEDIA_TYPE, LEGACY_WASM_LAYER_MEDIA_TYPE].contains(&layer.media_type.as_str())
    });
    match (wasm.next(), wasm.next()) {
        (Some(layer), None) => {
            store::check_digest(&layer.digest)?;
            Ok(layer)
        }
        (None, _) => Err(format!(
            "the artifact has no `{WASM_LAYER_MEDIA_TYPE}` layer: is it a wasm component pushed with `wasmhook push`?"
        )),
        (Some(_), Some(_)) => Err("the artifact has more than one wasm layer".to_owned()),
    }
}

/// Whether the registry could not be reached at all (as opposed to answering no).
fn unreachable(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(error) => {
            error.is_connect() || error.is_timeout() || error.is_request()
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500,
        _ => false,
    }
}

/// Whether `registry` (`host[:port]`) is on this machine.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_name_their_registry() {
        let tagged: RuleReference = "oci://registry.example.com/team/email-domain:v1"
            .parse()
            .unwrap();
        assert_eq!(
            tagged.to_string(),
            "oci://registry.example.com/team/email-domain:v1"
        );
        assert_eq!(tagged.name(), "email-domain");
        let pinned: RuleReference = format!("oci://127.0.0.1:5000/rules/r@{DIGEST}")
            .parse()
            .unwrap();
        assert_eq!(pinned.0.digest(), Some(DIGEST));
        assert!("oci://localhost/r:1".parse::<RuleReference>().is_ok());
        for bad in [
            "registry.example.com/r:v1",
            "oci://team/email-domain:v1",
            "oci://email-domain",
            "oci://registry.example.com/Team/r:v1",
            "oci://registry.example.com/r@sha256:abc",
            "oci://registry.example.com/r@md5:0123456789abcdef0123456789abcdef",
        ] {
            assert!(bad.parse::<RuleReference>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_loopback_registries_are_plain_http() {
        for local in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
            "127.0.0.2",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "registry.example.com",
            "10.0.0.1:5000",
            "ghcr.io",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }

    #[test]
    fn a_manifest_needs_exactly_one_wasm_layer() {
        let manifest = |layers: &[&str]| {
            let layers: Vec<_> = layers
                .iter()
                .map(|t| json!({"mediaType": t, "digest": DIGEST, "size": 3}))
                .collect();
            let config = json!({"mediaType": WASM_CONFIG_MEDIA_TYPE, "digest": DIGEST, "size": 2});
            serde_json::to_vec(&json!({"schemaVersion": 2, "config": config, "layers": layers}))
                .unwrap()
        };
        assert_eq!(
            wasm_layer(&manifest(&[WASM_LAYER_MEDIA_TYPE]))
                .unwrap()
                .digest,
            DIGEST
        );
        assert!(wasm_layer(&manifest(&[LEGACY_WASM_LAYER_MEDIA_TYPE])).is_ok());
        assert!(wasm_layer(&manifest(&["application/vnd.oci.image.layer.v1.tar"])).is_err());
        assert!(wasm_layer(&manifest(&[WASM_LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE])).is_err());
        assert!(wasm_layer(b"{\"manifests\": []}").is_err());
    }
}
