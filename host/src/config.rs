//! Configuration: one TOML file, parsed and validated completely before anything uses it.
//!
//! Every error names the file, the tenant and the key, because an operator reading
//! "invalid value" at 3 a.m. should not have to guess which of forty tenants is meant. Relative
//! rule paths are resolved against the config file's folder, so a config works from any working
//! directory. The result is plain data ([`Config`]), which tests can also build directly.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use serde::Deserialize;

use crate::decisions;
use crate::hooks::HookType;
use crate::hooks::event::EventPattern;
use crate::http::tls::TlsConfig;
use crate::okta::FailurePolicy;
use crate::okta::response::MAX_RESPONSE_BYTES;
use crate::registry::{self, RuleReference};
use crate::runtime::outbound::{Credential, Grant, Origin};
use crate::runtime::{Limits, MAX_CONCURRENT_EVALUATIONS};
use crate::tenant::breaker::BreakerConfig;
use crate::untrusted::GuestText;

mod toml_error;

/// Where the server listens when neither the config nor `--listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Okta waits 3 s for an answer; a rule deadline beyond that could never be met in time.
const MAX_DEADLINE_MS: u64 = 3000;
const MAX_MEMORY_MB: u64 = 4096;
/// Concurrent evaluations per tenant unless its config says otherwise.
pub const DEFAULT_CONCURRENT_EVALUATIONS: usize = 64;

/// A configuration problem, located as precisely as possible.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {location}{message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    /// Where in the file, e.g. ``tenant `demo`: routes[1].rule: ``; empty for file-level problems.
    pub location: String,
    pub message: String,
}

/// Every problem found in a configuration, each located and on its own line, so that `check`
/// and start-up report them all at once rather than one per attempt.
#[derive(Debug, Clone)]
pub struct Problems(pub Vec<ConfigError>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} problems:", all.len())?;
                all.iter()
                    .try_for_each(|problem| write!(f, "\n  {problem}"))
            }
        }
    }
}

impl std::error::Error for Problems {}

impl From<ConfigError> for Problems {
    fn from(error: ConfigError) -> Problems {
        Problems(vec![error])
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// Where to listen: `--listen` if given, else the file's `listen`.
    pub listen: SocketAddr,
    /// The file's own `listen`, so a reload can tell whether it changed.
    pub file_listen: SocketAddr,
    /// Where `/metrics` and the detailed status are served instead of on `listen`, if set
    /// (`--admin-listen` overrides it); read at start-up only.
    pub admin_listen: Option<SocketAddr>,
    /// Where compiled rules (`compiled/`) and rules pulled from registries (`oci/`) are kept
    /// across restarts; `None` disables the cache (and so `oci://` rules).
    pub cache_dir: Option<PathBuf>,
    /// Whether to reload when the config or a rule file changes (SIGHUP reloads either way).
    pub watch: bool,
    /// Most connections open at once; `None`: as many as the descriptor limit allows.
    pub max_connections: Option<usize>,
    /// Most connections open at once from one client address; `None`: `max_connections`.
    pub max_connections_per_client: Option<usize>,
    /// The event queue and how its events are retried (`[events]`).
    pub events: EventsConfig,
    /// HTTPS on the hook listener (`[tls]`); `None`: plain HTTP, for a proxy that ends TLS.
    pub tls: Option<TlsConfig>,
    /// Where the decision log goes (`decision_log`: a file, or `-` for stdout); read at start-up.
    pub decision_log: Option<decisions::Target>,
    pub tenants: Vec<TenantConfig>,
    /// Tenants whose definition is invalid, with the reason (only from [`Config::load_lenient`]).
    pub invalid_tenants: Vec<(String, ConfigError)>,
}

/// Where event hook deliveries are queued and how failed events are retried (`[events]`). The
/// queue's file is opened at start-up; the other keys take effect on a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// The queue's file (`queue`), by default `events.redb` in wasmhook's state folder
    /// ([`default_state_dir`]); opened when some tenant has event routes.
    pub queue: Option<PathBuf>,
    /// Attempts per event, the first included, before it becomes a dead letter.
    pub max_attempts: u32,
    /// The pause after the first failed attempt; it doubles after each further one.
    pub retry_after: Duration,
    /// The longest pause between two attempts.
    pub max_retry_after: Duration,
    /// Events of one tenant waiting in the queue beyond which its deliveries get 503.
    pub max_queued_per_tenant: u64,
    /// Event rule evaluations that may run at once (inline calls, which Okta waits for, keep
    /// the rest of the machine).
    pub concurrency: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            queue: default_state_dir().map(|dir| dir.join("events.redb")),
            max_attempts: 5,
            retry_after: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(300),
            max_queued_per_tenant: 100_000,
            concurrency: 2,
        }
    }
}

/// One tenant: its credentials and routes.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// The `{tenant}` of `POST /hooks/{tenant}`.
    pub id: String,
    pub auth: AuthConfig,
    /// Evaluations of this tenant's rules that may run at once; calls beyond it get the failure
    /// policy at once, so one tenant's flood cannot take every instance slot.
    pub max_concurrent_evaluations: usize,
    /// The tenant's share of the CPU when the machine is busy, relative to the other tenants'.
    pub weight: u64,
    pub routes: Vec<RouteConfig>,
}

impl TenantConfig {
    /// Whether any route of the tenant handles event hook deliveries.
    pub fn has_event_routes(&self) -> bool {
        self.routes
            .iter()
            .any(|route| route.hook == HookType::Event)
    }
}

/// How a tenant authenticates Okta's calls.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    HeaderSecret(HeaderSecretConfig),
    Bearer(BearerConfig),
}

/// OAuth 2.0 bearer tokens (JWT) from an authorization server.
#[derive(Debug, Clone)]
pub struct BearerConfig {
    /// `iss` must equal this, e.g. `https://acme.okta.com/oauth2/default`.
    pub issuer: String,
    /// `aud` must equal this, e.g. `api://default`.
    pub audience: String,
    pub jwks: JwksSource,
    /// If not empty, `cid` must be one of these.
    pub allowed_client_ids: Vec<String>,
    /// If set, `scp` must contain it.
    pub required_scope: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// Least time between two JWKS fetches caused by unknown `kid`s.
    pub jwks_min_refresh: Duration,
}

/// Where the authorization server's signing keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// Fetched (and cached); e.g. `https://acme.okta.com/oauth2/default/v1/keys`.
    Url(url::Url),
    /// Read when the configuration loads.
    File(PathBuf),
}

/// Header-secret authentication: Okta sends `header: <secret>` verbatim on every call.
#[derive(Clone)]
pub struct HeaderSecretConfig {
    pub header: HeaderName,
    /// Accepted values; more than one during a rotation.
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for HeaderSecretConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderSecretConfig")
            .field("header", &self.header)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish()
    }
}

/// Which rule answers which hook calls of a tenant, with what settings and limits.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// The hook type of `event_type`: [`HookType::Event`] for a System Log event type.
    pub hook: HookType,
    /// An inline hook's `eventType`, or for an event route the System Log event types it handles.
    pub event_type: String,
    /// For an event route, `event_type` parsed.
    pub events: Option<EventPattern>,
    /// `None` matches every request type of `event_type`.
    pub request_type: Option<String>,
    /// The rule component: a file (its absolute path) or an OCI artifact.
    pub rule: RuleSource,
    /// The route's settings as JSON text (an object).
    pub settings: String,
    pub limits: Limits,
    /// `allowed_outbound_hosts` and `outbound_credentials`: what the rule may reach over HTTP.
    pub outbound: Grant,
    pub on_failure: FailurePolicy,
    pub circuit_breaker: BreakerConfig,
    /// A candidate rule run beside the route's rule on every call, off the answer path.
    pub shadow: Option<ShadowConfig>,
}

/// A route's shadow rule: evaluated after the answer is sent, under the route's limits; its
/// decision is compared with the live one, logged when they differ and counted, never sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowConfig {
    /// The candidate component.
    pub rule: RuleSource,
    /// Its settings as JSON text (the route's unless `shadow_settings` is given).
    pub settings: String,
}

/// Where a rule component comes from: `rule = "rules/r.wasm"` (relative to the config file) or
/// `rule = "oci://registry.example.com/team/r@sha256:…"` (pulled by [`crate::registry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    File(PathBuf),
    Oci(RuleReference),
}

impl RuleSource {
    /// `text` as a rule source: an `oci://` reference, else a file relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<RuleSource, String> {
        if text.starts_with(registry::SCHEME) {
            text.parse().map(RuleSource::Oci)
        } else {
            Ok(RuleSource::File(base.join(text)))
        }
    }

    /// A short name for logs and metric labels: the file's stem, or the repository's last
    /// segment.
    pub fn name(&self) -> String {
        match self {
            RuleSource::File(path) => path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            RuleSource::Oci(reference) => reference.name().to_owned(),
        }
    }

    /// The file, if the rule is one (file rules are watched for changes).
    pub fn file(&self) -> Option<&Path> {
        match self {
            RuleSource::File(path) => Some(path),
            RuleSource::Oci(_) => None,
        }
    }
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSource::File(path) => path.display().fmt(f),
            RuleSource::Oci(reference) => reference.fmt(f),
        }
    }
}

impl serde::Serialize for RuleSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Config {
    /// Reads and validates `file`, refusing it if any tenant is invalid (naming every invalid
    /// tenant). `listen` overrides the file's `listen`.
    pub fn load(file: &Path, listen: Option<SocketAddr>) -> Result<Config, Problems> {
        let mut config = Config::load_lenient(file, listen)?;
        let invalid = std::mem::take(&mut config.invalid_tenants);
        if invalid.is_empty() {
            Ok(config)
        } else {
            Err(Problems(invalid.into_iter().map(|(_, e)| e).collect()))
        }
    }

    /// Reads and validates `file`, setting invalid tenants aside in `invalid_tenants` instead of
    /// refusing the whole file, so that a reload can keep their last good version. Problems that
    /// concern the whole file (unreadable, bad syntax, invalid `[limits]`) are still errors.
    pub fn load_lenient(file: &Path, listen: Option<SocketAddr>) -> Result<Config, ConfigError> {
        let error = |location: String, message: String| ConfigError {
            file: file.to_owned(),
            location,
            message,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| error(String::new(), format!("cannot read the file: {e}")))?;
        // Never the parser's own text: it quotes the offending line, which may hold a secret.
        let raw: raw::File = toml::from_str(&text).map_err(|e| {
            let (location, message) = toml_error::describe(&text, &e);
            error(location, message)
        })?;
        let base = file.parent().unwrap_or(Path::new("."));
        let defaults = raw
            .limits
            .resolve(&Limits::default())
            .map_err(|(key, message)| error(format!("limits.{key}: "), message))?;
        let breaker = raw
            .circuit_breaker
            .resolve(BreakerConfig::default())
            .map_err(|(key, message)| error(format!("circuit_breaker.{key}: "), message))?;
        let defaults = Defaults {
            limits: defaults,
            breaker,
        };
        let mut tenants = Vec::new();
        let mut invalid_tenants = Vec::new();
        for (id, tenant) in raw.tenants {
            match tenant.validate(&id, base, &defaults) {
                Ok(tenant) => tenants.push(tenant),
                Err((key, message)) => {
                    invalid_tenants.push((
                        id.clone(),
                        error(format!("tenant `{id}`: {key}: "), message),
                    ));
                }
            }
        }
        for (key, value) in [
            ("max_connections", raw.max_connections),
            ("max_connections_per_client", raw.max_connections_per_client),
        ] {
            if value == Some(0) {
                return Err(error(format!("{key}: "), "must be at least 1".into()));
            }
        }
        let events = raw
            .events
            .resolve(base)
            .map_err(|(key, message)| error(format!("events.{key}: "), message))?;
        let tls = match raw.tls {
            Some(tls) if tls.cert.as_os_str().is_empty() || tls.key.as_os_str().is_empty() => {
                let message = "`cert` and `key` must name the PEM files".into();
                return Err(error("tls: ".into(), message));
            }
            Some(tls) => Some(TlsConfig {
                cert: base.join(tls.cert),
                key: base.join(tls.key),
            }),
            None => None,
        };
        let decision_log = match raw.decision_log {
            Some(file) if file.as_os_str().is_empty() => {
                let message = "must name a file, or `-` for stdout".into();
                return Err(error("decision_log: ".into(), message));
            }
            Some(file) if file.as_os_str() == "-" => Some(decisions::Target::Stdout),
            Some(file) => Some(decisions::Target::File(base.join(file))),
            None => None,
        };
        let cache_dir = match raw.cache_dir {
            Some(dir) if dir.is_empty() => None,
            Some(dir) => Some(base.join(dir)),
            None => default_cache_dir(),
        };
        Ok(Config {
            file: file.to_owned(),
            listen: listen.unwrap_or(raw.listen),
            file_listen: raw.listen,
            admin_listen: raw.admin_listen,
            cache_dir,
            watch: raw.watch,
            max_connections: raw.max_connections,
            max_connections_per_client: raw.max_connections_per_client,
            events,
            tls,
            decision_log,
            tenants,
            invalid_tenants,
        })
    }
}

/// `$XDG_CACHE_HOME/wasmhook`, else `$HOME/.cache/wasmhook`, else no cache.
pub fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    non_empty("XDG_CACHE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join("wasmhook"))
}

/// `$XDG_STATE_HOME/wasmhook`, else `$HOME/.local/state/wasmhook`: where the event queue lives
/// unless `[events] queue` says otherwise.
pub fn default_state_dir() -> Option<PathBuf> {
    let non_empty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    non_empty("XDG_STATE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".local/state")))
        .map(|dir| dir.join("wasmhook"))
}

/// The file's shape, as serde sees it. Unknown keys are errors: a typo must not silently
/// disable a setting.
mod raw {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct File {
        #[serde(default = "default_listen")]
        pub listen: SocketAddr,
        pub admin_listen: Option<SocketAddr>,
        pub cache_dir: Option<String>,
        #[serde(default = "yes")]
        pub watch: bool,
        pub max_connections: Option<usize>,
        pub max_connections_per_client: Option<usize>,
        #[serde(default)]
        pub limits: LimitsTable,
        #[serde(default)]
        pub circuit_breaker: BreakerTable,
        #[serde(default)]
        pub events: EventsTable,
        pub tls: Option<TlsTable>,
        pub decision_log: Option<PathBuf>,
        #[serde(default)]
        pub tenants: BTreeMap<String, Tenant>,
    }

    /// `[tls]`: the hook listener's certificate chain and key, PEM files.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TlsTable {
        pub cert: PathBuf,
        pub key: PathBuf,
    }

    /// `[events]`: the event queue and its retries.
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct EventsTable {
        pub queue: Option<String>,
        pub max_attempts: Option<u64>,
        pub retry_after_ms: Option<u64>,
        pub max_retry_after_ms: Option<u64>,
        pub max_queued_per_tenant: Option<u64>,
        pub concurrency: Option<u64>,
    }

    /// The circuit breaker: the file's `[circuit_breaker]` gives defaults, a route's
    /// `circuit_breaker = {…}` overrides.
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct BreakerTable {
        pub failures: Option<u32>,
        pub cool_down_ms: Option<u64>,
    }

    fn yes() -> bool {
        true
    }

    fn default_listen() -> SocketAddr {
        DEFAULT_LISTEN.parse().expect("valid default address")
    }

    /// Route limits: the file's `[limits]` gives defaults, a route's `limits = {…}` overrides.
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub struct LimitsTable {
        pub deadline_ms: Option<u64>,
        pub max_memory_mb: Option<u64>,
        pub fuel: Option<u64>,
        pub max_log_kb: Option<u64>,
        pub max_response_kb: Option<u64>,
        pub max_module_kb: Option<u64>,
        pub max_outbound_requests: Option<u64>,
        pub max_outbound_response_kb: Option<u64>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Tenant {
        pub auth: Auth,
        pub max_concurrent_evaluations: Option<usize>,
        pub weight: Option<u64>,
        #[serde(default)]
        pub routes: Vec<Route>,
    }

    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
    pub enum Auth {
        HeaderSecret {
            header: String,
            #[serde(default)]
            secrets: Vec<String>,
            /// Names of environment variables holding secrets, so they need not sit in the file.
            #[serde(default)]
            secrets_from_env: Vec<String>,
        },
        /// OAuth 2.0: Okta sends `Authorization: Bearer <JWT>` from the admin's authorization server.
        Oauth2Bearer {
            issuer: String,
            audience: String,
            jwks_url: Option<String>,
            jwks_file: Option<PathBuf>,
            #[serde(default)]
            allowed_client_ids: Vec<String>,
            required_scope: Option<String>,
            leeway_seconds: Option<u64>,
            jwks_min_refresh_seconds: Option<u64>,
        },
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Route {
        pub event_type: String,
        pub request_type: Option<String>,
        /// A file, or an `oci://` reference.
        pub rule: String,
        pub settings: Option<toml::Table>,
        #[serde(default)]
        pub limits: LimitsTable,
        pub on_failure: Option<FailurePolicy>,
        #[serde(default)]
        pub circuit_breaker: BreakerTable,
        /// A candidate rule evaluated beside `rule` off the answer path, for comparison.
        pub shadow_rule: Option<String>,
        /// The candidate's settings; `settings` unless given.
        pub shadow_settings: Option<toml::Table>,
        /// Origins the rule may reach over HTTP: `https://host[:port]`, or
        /// `http://127.0.0.1:port` for a loopback service. None by default.
        #[serde(default)]
        pub allowed_outbound_hosts: Vec<String>,
        /// Headers the server adds to the requests to one granted origin (API keys), read from
        /// the environment or a file so that neither the rule nor this file holds them.
        #[serde(default)]
        pub outbound_credentials: Vec<OutboundCredential>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OutboundCredential {
        pub host: String,
        pub header: String,
        pub from_env: Option<String>,
        pub from_file: Option<PathBuf>,
        /// Put before the value, e.g. `"Bearer "`.
        #[serde(default)]
        pub prefix: String,
    }
}

type Invalid = (String, String);

/// What every route gets unless it says otherwise.
struct Defaults {
    limits: Limits,
    breaker: BreakerConfig,
}

impl raw::EventsTable {
    fn resolve(&self, base: &Path) -> Result<EventsConfig, Invalid> {
        fn bounded(
            key: &str,
            value: Option<u64>,
            min: u64,
            max: u64,
        ) -> Result<Option<u64>, Invalid> {
            match value {
                Some(v) if !(min..=max).contains(&v) => {
                    Err((key.to_owned(), format!("must be between {min} and {max}")))
                }
                value => Ok(value),
            }
        }
        let mut events = EventsConfig::default();
        match self.queue.as_deref() {
            Some("") => return Err(("queue".into(), "must name a file".into())),
            Some(queue) => events.queue = Some(base.join(queue)),
            None => {}
        }
        if let Some(n) = bounded("max_attempts", self.max_attempts, 1, 100)? {
            events.max_attempts = n as u32;
        }
        if let Some(ms) = bounded("retry_after_ms", self.retry_after_ms, 1, 3_600_000)? {
            events.retry_after = Duration::from_millis(ms);
        }
        if let Some(ms) = bounded("max_retry_after_ms", self.max_retry_after_ms, 1, 86_400_000)? {
            events.max_retry_after = Duration::from_millis(ms);
        }
        if events.max_retry_after < events.retry_after {
            let message = "must be at least retry_after_ms";
            return Err(("max_retry_after_ms".into(), message.into()));
        }
        if let Some(n) = bounded(
            "max_queued_per_tenant",
            self.max_queued_per_tenant,
            1,
            10_000_000,
        )? {
            events.max_queued_per_tenant = n;
        }
        if let Some(n) = bounded(
            "concurrency",
            self.concurrency,
            1,
            MAX_CONCURRENT_EVALUATIONS as u64,
        )? {
            events.concurrency = n as usize;
        }
        Ok(events)
    }
}

impl raw::BreakerTable {
    fn resolve(&self, defaults: BreakerConfig) -> Result<BreakerConfig, Invalid> {
        let mut config = defaults;
        if let Some(failures) = self.failures {
            if failures > 1000 {
                return Err((
                    "failures".into(),
                    "must be at most 1000 (0 turns it off)".into(),
                ));
            }
            config.failures = failures;
        }
        if let Some(ms) = self.cool_down_ms {
            if !(1..=3_600_000).contains(&ms) {
                return Err((
                    "cool_down_ms".into(),
                    "must be between 1 and 3600000".into(),
                ));
            }
            config.cool_down = Duration::from_millis(ms);
        }
        Ok(config)
    }
}

impl raw::LimitsTable {
    /// `defaults` with this table's values applied, each checked against its range.
    fn resolve(&self, defaults: &Limits) -> Result<Limits, Invalid> {
        fn bounded(key: &str, value: u64, min: u64, max: u64, why: &str) -> Result<u64, Invalid> {
            if (min..=max).contains(&value) {
                return Ok(value);
            }
            Err((
                key.to_owned(),
                format!("must be between {min} and {max}{why}"),
            ))
        }
        let mut limits = defaults.clone();
        if let Some(ms) = self.deadline_ms {
            let ms = bounded("deadline_ms", ms, 1, MAX_DEADLINE_MS, " (Okta waits 3 s)")?;
            limits.deadline = Duration::from_millis(ms);
        }
        if let Some(mb) = self.max_memory_mb {
            limits.max_memory_bytes =
                (bounded("max_memory_mb", mb, 1, MAX_MEMORY_MB, "")? as usize) << 20;
        }
        if let Some(fuel) = self.fuel {
            limits.fuel = Some(bounded("fuel", fuel, 1, u64::MAX / 2, "")?);
        }
        if let Some(kb) = self.max_log_kb {
            limits.max_log_bytes = (bounded("max_log_kb", kb, 0, 1024, "")? as usize) << 10;
        }
        if let Some(kb) = self.max_response_kb {
            let kb = bounded(
                "max_response_kb",
                kb,
                1,
                256,
                " (Okta accepts less than 256 KB)",
            )?;
            limits.max_response_bytes = ((kb as usize) << 10).min(MAX_RESPONSE_BYTES);
        }
        if let Some(kb) = self.max_module_kb {
            limits.max_module_bytes = bounded("max_module_kb", kb, 1, 1 << 20, "")? << 10;
        }
        if let Some(n) = self.max_outbound_requests {
            limits.max_outbound_requests = bounded("max_outbound_requests", n, 0, 32, "")? as u32;
        }
        if let Some(kb) = self.max_outbound_response_kb {
            limits.max_outbound_response_bytes =
                (bounded("max_outbound_response_kb", kb, 1, 16 << 10, "")? as usize) << 10;
        }
        Ok(limits)
    }
}

impl raw::Tenant {
    fn validate(self, id: &str, base: &Path, defaults: &Defaults) -> Result<TenantConfig, Invalid> {
        let valid_id = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid_id {
            let message = "a tenant id may use only letters, digits, `-`, `_` and `.`";
            return Err(("id".into(), message.into()));
        }
        let auth = self.auth.validate(base)?;
        let mut seen = HashSet::new();
        let routes = self
            .routes
            .into_iter()
            .enumerate()
            .map(|(i, route)| {
                let route = route
                    .validate(base, defaults)
                    .map_err(|(key, message)| (format!("routes[{i}].{key}"), message))?;
                if !seen.insert((route.event_type.clone(), route.request_type.clone())) {
                    let message = "another route of this tenant already handles these calls";
                    return Err((format!("routes[{i}]"), message.into()));
                }
                Ok(route)
            })
            .collect::<Result<_, _>>()?;
        let max_concurrent_evaluations = self
            .max_concurrent_evaluations
            .unwrap_or(DEFAULT_CONCURRENT_EVALUATIONS);
        if !(1..=MAX_CONCURRENT_EVALUATIONS).contains(&max_concurrent_evaluations) {
            let message = format!("must be between 1 and {MAX_CONCURRENT_EVALUATIONS}");
            return Err(("max_concurrent_evaluations".into(), message));
        }
        let weight = self.weight.unwrap_or(1);
        if !(1..=1000).contains(&weight) {
            return Err(("weight".into(), "must be between 1 and 1000".into()));
        }
        let tenant = TenantConfig {
            id: id.to_owned(),
            auth,
            max_concurrent_evaluations,
            weight,
            routes,
        };
        if tenant.has_event_routes() && matches!(tenant.auth, AuthConfig::Bearer(_)) {
            let message = "event hooks authenticate with a header secret only (Okta sends them no \
                           OAuth token): give event routes to a tenant with `header-secret` auth";
            return Err(("routes".into(), message.into()));
        }
        Ok(tenant)
    }
}

impl raw::Auth {
    fn validate(self, base: &Path) -> Result<AuthConfig, Invalid> {
        match self {
            raw::Auth::HeaderSecret {
                header,
                secrets,
                secrets_from_env,
            } => validate_header_secret(header, secrets, secrets_from_env)
                .map(AuthConfig::HeaderSecret),
            raw::Auth::Oauth2Bearer {
                issuer,
                audience,
                jwks_url,
                jwks_file,
                allowed_client_ids,
                required_scope,
                leeway_seconds,
                jwks_min_refresh_seconds,
            } => {
                let invalid =
                    |key: &str, message: &str| (format!("auth.{key}"), message.to_owned());
                if issuer.is_empty() {
                    return Err(invalid("issuer", "must not be empty"));
                }
                if audience.is_empty() {
                    return Err(invalid("audience", "must not be empty"));
                }
                let jwks = match (jwks_url, jwks_file) {
                    (Some(url), None) => JwksSource::Url(validate_jwks_url(url)?),
                    (None, Some(file)) => JwksSource::File(base.join(file)),
                    _ => {
                        return Err(invalid(
                            "jwks_url",
                            "set exactly one of jwks_url and jwks_file",
                        ));
                    }
                };
                let leeway_seconds = leeway_seconds.unwrap_or(5);
                if leeway_seconds > 300 {
                    return Err(invalid("leeway_seconds", "must be at most 300"));
                }
                Ok(AuthConfig::Bearer(BearerConfig {
                    issuer,
                    audience,
                    jwks,
                    allowed_client_ids,
                    required_scope,
                    leeway_seconds,
                    jwks_min_refresh: Duration::from_secs(jwks_min_refresh_seconds.unwrap_or(30)),
                }))
            }
        }
    }
}

/// A JWKS URL must use HTTPS; plain HTTP is accepted only when the URL's *host* is a loopback
/// address or `localhost`. Parsed with a real URL parser, so that `http://127.0.0.1:1@evil/`
/// (user `127.0.0.1`, host `evil`) is seen for what it is; credentials in the URL are refused
/// outright (they would be sent in clear to whatever the host is, and end up in logs).
fn validate_jwks_url(text: String) -> Result<url::Url, Invalid> {
    let invalid = |message: String| ("auth.jwks_url".to_owned(), message);
    // The URL is not repeated in messages: it may hold credentials.
    let url = url::Url::parse(&text).map_err(|e| invalid(format!("is not a valid URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not carry credentials (`user:password@` before the host)".into(),
        ));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err(invalid("has no host".into())),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(invalid(
            "must be an https:// URL (plain http:// only for a loopback host: 127.0.0.1, [::1], localhost)"
                .into(),
        )),
        _ => Err(invalid("must be an https:// URL".into())),
    }
}

/// A route's outbound grant: every origin parsed ([`Origin::parse`] says what is accepted), every
/// credential for a granted origin, with its value read now. Messages name the environment
/// variable or file, never the value.
fn validate_outbound(
    hosts: Vec<String>,
    credentials: Vec<raw::OutboundCredential>,
    base: &Path,
) -> Result<Grant, Invalid> {
    let mut grant = Grant::default();
    for (i, host) in hosts.iter().enumerate() {
        let origin =
            Origin::parse(host).map_err(|m| (format!("allowed_outbound_hosts[{i}]"), m))?;
        grant.allow(origin);
    }
    for (i, credential) in credentials.into_iter().enumerate() {
        let key = |field: &str| format!("outbound_credentials[{i}].{field}");
        let origin = Origin::parse(&credential.host).map_err(|m| (key("host"), m))?;
        if !grant.origins.contains(&origin) {
            let message = format!("`{origin}` is not in `allowed_outbound_hosts`");
            return Err((key("host"), message));
        }
        let header = HeaderName::try_from(credential.header.as_str())
            .map_err(|_| (key("header"), "is not a valid header name".to_owned()))?;
        if wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(&header)
            || header == http::header::CONTENT_LENGTH
        {
            let message = format!("`{header}` is set by the server itself");
            return Err((key("header"), message));
        }
        let secret = match (&credential.from_env, &credential.from_file) {
            (Some(name), None) => std::env::var(name).map_err(|_| {
                (
                    key("from_env"),
                    format!("environment variable `{name}` is not set"),
                )
            })?,
            (None, Some(file)) => {
                let file = base.join(file);
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    (
                        key("from_file"),
                        format!("cannot read {}: {e}", file.display()),
                    )
                })?;
                text.trim_end_matches(['\n', '\r']).to_owned()
            }
            _ => {
                let message = "give exactly one of `from_env` and `from_file`";
                return Err((key("from_env"), message.into()));
            }
        };
        let mut value = HeaderValue::try_from(format!("{}{secret}", credential.prefix))
            .ok()
            .filter(|_| !secret.is_empty())
            .ok_or_else(|| {
                let message = "the value must be a non-empty, printable header value";
                (key("header"), message.to_owned())
            })?;
        value.set_sensitive(true);
        grant.credentials.push(Credential {
            origin,
            header,
            value,
        });
    }
    Ok(grant)
}

fn validate_header_secret(
    header: String,
    mut secrets: Vec<String>,
    secrets_from_env: Vec<String>,
) -> Result<HeaderSecretConfig, Invalid> {
    let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        (
            "auth.header".into(),
            format!("`{header}` is not an HTTP header name"),
        )
    })?;
    for name in secrets_from_env {
        let value = std::env::var(&name).map_err(|_| {
            let message = format!("environment variable `{name}` is not set");
            ("auth.secrets_from_env".to_owned(), message)
        })?;
        secrets.push(value);
    }
    if secrets.is_empty() {
        let message = "at least one secret is required (secrets or secrets_from_env)";
        return Err(("auth.secrets".into(), message.into()));
    }
    if secrets
        .iter()
        .any(|s| s.is_empty() || HeaderValue::from_str(s).is_err())
    {
        let message = "a secret must be a non-empty, printable header value";
        return Err(("auth.secrets".into(), message.into()));
    }
    // HTTP strips white space around a header value, so such a secret could never match.
    if secrets
        .iter()
        .any(|s| s.starts_with([' ', '\t']) || s.ends_with([' ', '\t']))
    {
        let message = "a secret must not start or end with white space (HTTP strips it from \
                       header values, so the secret could never match)";
        return Err(("auth.secrets".into(), message.into()));
    }
    Ok(HeaderSecretConfig { header, secrets })
}

impl raw::Route {
    /// Refuses what only an inline route can have: an event route answers Okta before its rule
    /// runs, and retries a failed event instead (`[events]`).
    fn refuse_event_route_keys(&self) -> Result<(), Invalid> {
        let why = "an event route answers Okta before its rule runs";
        let refused = [
            (
                "request_type",
                self.request_type.is_some(),
                "event hooks have no request type",
            ),
            (
                "on_failure",
                self.on_failure.is_some(),
                "a failed event is retried (`[events]` max_attempts), there is no failure answer",
            ),
            (
                "shadow_rule",
                self.shadow_rule.is_some(),
                "shadow rules compare answers to Okta",
            ),
            (
                "circuit_breaker",
                self.circuit_breaker.failures.is_some()
                    || self.circuit_breaker.cool_down_ms.is_some(),
                "a failed event is retried with growing pauses instead",
            ),
        ];
        match refused.into_iter().find(|(_, set, _)| *set) {
            Some((key, _, reason)) => Err((key.into(), format!("{why}: {reason}"))),
            None => Ok(()),
        }
    }

    fn validate(self, base: &Path, defaults: &Defaults) -> Result<RouteConfig, Invalid> {
        let events = EventPattern::parse(&self.event_type);
        let hook = match HookType::of_event_type(&self.event_type) {
            Some(HookType::Event) | None if events.is_none() => {
                let known = HookType::INLINE.map(|hook| format!("`{}`", hook.event_type()));
                let message = format!(
                    "`{}` is neither an inline hook's event type ({}) nor a System Log event \
                     type for event hooks (`user.lifecycle.create`, `user.lifecycle.*` or `*`)",
                    GuestText::new(&self.event_type, 128),
                    known.join(", ")
                );
                return Err(("event_type".into(), message));
            }
            Some(hook) => hook,
            None => {
                self.refuse_event_route_keys()?;
                HookType::Event
            }
        };
        if let Some(request_type) = &self.request_type
            && !hook.request_types().contains(&request_type.as_str())
        {
            let message = match hook.request_types() {
                [] => format!("`{}` calls have no request type", self.event_type),
                known => format!(
                    "`{request_type}` is not a {hook} request type ({})",
                    known
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            };
            return Err(("request_type".into(), message));
        }
        if let Some(why) = self
            .on_failure
            .and_then(|policy| hook.refuses_policy(policy))
        {
            return Err(("on_failure".into(), why.into()));
        }
        let settings = serde_json::to_string(&self.settings.unwrap_or_default())
            .map_err(|e| ("settings".to_owned(), e.to_string()))?;
        let shadow = match (self.shadow_rule, self.shadow_settings) {
            (None, Some(_)) => {
                let message = "`shadow_settings` needs a `shadow_rule` to hand them to";
                return Err(("shadow_settings".into(), message.into()));
            }
            (None, None) => None,
            (Some(rule), shadow_settings) => Some(ShadowConfig {
                rule: RuleSource::parse(&rule, base).map_err(|e| ("shadow_rule".to_owned(), e))?,
                settings: match shadow_settings {
                    None => settings.clone(),
                    Some(table) => serde_json::to_string(&table)
                        .map_err(|e| ("shadow_settings".to_owned(), e.to_string()))?,
                },
            }),
        };
        let outbound =
            validate_outbound(self.allowed_outbound_hosts, self.outbound_credentials, base)?;
        Ok(RouteConfig {
            outbound,
            shadow,
            on_failure: self.on_failure.unwrap_or(hook.default_policy()),
            hook,
            event_type: self.event_type,
            events,
            request_type: self.request_type,
            rule: RuleSource::parse(&self.rule, base).map_err(|e| ("rule".to_owned(), e))?,
            settings,
            limits: self
                .limits
                .resolve(&defaults.limits)
                .map_err(|(key, m)| (format!("limits.{key}"), m))?,
            circuit_breaker: self
                .circuit_breaker
                .resolve(defaults.breaker)
                .map_err(|(key, m)| (format!("circuit_breaker.{key}"), m))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::registration::EVENT_TYPE as REGISTRATION;

    /// Writes `toml` to a fresh file in a temporary folder.
    fn write(toml: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!("wasmhook-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = dir.join(format!("{n}.toml"));
        std::fs::write(&file, toml).unwrap();
        file
    }

    fn load(toml: &str) -> Result<Config, Problems> {
        Config::load(&write(toml), None)
    }

    const TENANT: &str = r#"
        [tenants.demo.auth]
        type = "header-secret"
        header = "Authorization"
        secrets = ["Basic YWRtaW46c3VwZXJzZWNyZXQ="]
    "#;

    fn route(extra: &str) -> String {
        format!(
            "{TENANT}\n[[tenants.demo.routes]]\nevent_type = \"{REGISTRATION}\"\nrule = \"rules/r.wasm\"\n{extra}"
        )
    }

    fn header_secret(tenant: &TenantConfig) -> &HeaderSecretConfig {
        match &tenant.auth {
            AuthConfig::HeaderSecret(secret) => secret,
            AuthConfig::Bearer(_) => panic!("expected a header secret"),
        }
    }

    #[test]
    fn oauth2_bearer_is_configured_and_checked() {
        let bearer = r#"
            [tenants.acme.auth]
            type = "oauth2-bearer"
            issuer = "https://acme.okta.com/oauth2/default"
            audience = "api://default"
            jwks_url = "https://acme.okta.com/oauth2/default/v1/keys"
            allowed_client_ids = ["0oahook"]
            required_scope = "okta.hooks"
        "#;
        let config = load(bearer).unwrap();
        let AuthConfig::Bearer(auth) = &config.tenants[0].auth else {
            panic!("bearer")
        };
        assert_eq!(auth.leeway_seconds, 5);
        assert_eq!(auth.jwks_min_refresh, Duration::from_secs(30));
        assert!(matches!(&auth.jwks, JwksSource::Url(url) if url.path().ends_with("/v1/keys")));
        for (edit, expected) in [
            (
                (
                    "https://acme.okta.com/oauth2/default/v1/keys",
                    "http://acme.okta.com/keys",
                ),
                "auth.jwks_url: must be an https:// URL",
            ),
            (
                ("jwks_url", "jwks_file = \"keys.json\"\njwks_url"),
                "auth.jwks_url: set exactly one",
            ),
            (
                ("audience = \"api://default\"", "audience = \"\""),
                "auth.audience: must not be empty",
            ),
            (
                ("required_scope", "leeway_seconds = 900\nrequired_scope"),
                "auth.leeway_seconds: must be at most 300",
            ),
        ] {
            let message = message(&bearer.replace(edit.0, edit.1));
            assert!(
                message.contains(&format!("tenant `acme`: {expected}")),
                "{message}"
            );
        }
        let url = "https://acme.okta.com/oauth2/default/v1/keys";
        for loopback in [
            "http://127.0.0.1:9/keys",
            "http://localhost/keys",
            "http://[::1]:8000/keys",
            "http://127.8.0.1/keys",
        ] {
            let config = load(&bearer.replace(url, loopback));
            assert!(config.is_ok(), "plain HTTP is allowed for {loopback}");
        }
    }

    #[test]
    fn a_jwks_url_is_judged_by_its_real_host_and_carries_no_credentials() {
        let bearer = |url: &str| {
            format!(
                "[tenants.acme.auth]\ntype = \"oauth2-bearer\"\nissuer = \"https://i\"\n\
                 audience = \"a\"\njwks_url = \"{url}\"\n"
            )
        };
        for (url, expected) in [
            // The text before `@` is userinfo: the host is 192.0.2.2, in clear.
            (
                "http://127.0.0.1:1@192.0.2.2:8000/keys",
                "must not carry credentials",
            ),
            (
                "https://user:hunter2@acme.okta.com/keys",
                "must not carry credentials",
            ),
            (
                "https://user@acme.okta.com/keys",
                "must not carry credentials",
            ),
            (
                "http://localhost.evil.example/keys",
                "must be an https:// URL",
            ),
            (
                "http://127.0.0.1.evil.example/keys",
                "must be an https:// URL",
            ),
            ("http://[::ffff:192.0.2.2]/keys", "must be an https:// URL"),
            ("ftp://127.0.0.1/keys", "must be an https:// URL"),
            ("/v1/keys", "is not a valid URL"),
        ] {
            let message = message(&bearer(url));
            assert!(
                message.contains(&format!("tenant `acme`: auth.jwks_url: {expected}")),
                "{url}: {message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn a_secret_with_surrounding_white_space_is_refused() {
        for secret in [" Basic x", "Basic x ", "Basic x\t"] {
            let toml = TENANT.replace("Basic YWRtaW46c3VwZXJzZWNyZXQ=", secret);
            let message = message(&toml);
            assert!(
                message.contains(
                    "tenant `demo`: auth.secrets: a secret must not start or end with white space"
                ),
                "{secret:?}: {message}"
            );
        }
    }

    #[test]
    fn a_file_that_does_not_parse_is_located_without_quoting_a_secret() {
        for (toml, location) in [
            (
                TENANT.replace(
                    "secrets = [\"Basic YWRtaW46c3VwZXJzZWNyZXQ=\"]",
                    "secrets = \"Basic c2VjcmV0\"",
                ),
                // `auth` is an internally tagged table: the parser places the error on it.
                "line 2, column 9: tenant `demo`: auth: invalid type: a string, expected a sequence",
            ),
            (
                TENANT.replace(
                    "[\"Basic YWRtaW46c3VwZXJzZWNyZXQ=\"]",
                    "[\"Basic b2xk\" \"Basic c2VjcmV0\"]",
                ),
                "line 5, column 33: tenant `demo`: auth.secrets: missing comma",
            ),
        ] {
            let message = message(&toml);
            assert!(message.contains(location), "{message}");
            for leak in ["c2VjcmV0", "b2xk", "Basic"] {
                assert!(!message.contains(leak), "leaks `{leak}`: {message}");
            }
            assert!(!message.contains('\n'), "one line: {message:?}");
        }
    }

    fn message(toml: &str) -> String {
        load(toml).unwrap_err().to_string()
    }

    #[test]
    fn outbound_grants_and_credentials_are_read_and_checked() {
        let origin = "https://sms.example.net";
        let grant = |credential: &str| {
            route(&format!(
                "allowed_outbound_hosts = [\"{origin}\", \"{origin}:443\"]\n\
                 outbound_credentials = [{{ host = \"{origin}\", header = \"authorization\", {credential} }}]"
            ))
        };
        let config = load(&grant("prefix = \"Bearer \", from_env = \"PATH\"")).unwrap();
        let outbound = &config.tenants[0].routes[0].outbound;
        assert_eq!(
            outbound.origins.len(),
            1,
            "the same origin twice is one grant"
        );
        let path = std::env::var("PATH").unwrap();
        let value = outbound.credentials[0].value.to_str().unwrap();
        assert_eq!(value, format!("Bearer {path}"));
        assert!(outbound.credentials[0].value.is_sensitive());
        assert_eq!(
            load(&route("")).unwrap().tenants[0].routes[0].outbound,
            Grant::default()
        );

        for (credential, why) in [
            (
                "from_env = \"WASMHOOK_TEST_UNSET_VARIABLE\"",
                "`WASMHOOK_TEST_UNSET_VARIABLE` is not set",
            ),
            (
                "from_file = \"no-such-file\"",
                "outbound_credentials[0].from_file: cannot read",
            ),
            ("", "give exactly one of `from_env` and `from_file`"),
            ("from_env = \"PATH\", from_file = \"x\"", "give exactly one"),
        ] {
            let message = message(&grant(credential));
            assert!(message.contains(why), "{credential}: {message}");
            assert!(!message.contains(&path), "the value in: {message}");
        }
        let other_host = route(
            "allowed_outbound_hosts = [\"https://a.example.net\"]\n\
             outbound_credentials = [{ host = \"https://b.example.net\", header = \"x-key\", from_env = \"PATH\" }]",
        );
        assert!(
            message(&other_host)
                .contains("`https://b.example.net` is not in `allowed_outbound_hosts`")
        );
        let host_header = grant("from_env = \"PATH\"").replace("\"authorization\"", "\"host\"");
        assert!(message(&host_header).contains("`host` is set by the server itself"));
        let limits = route("limits = { max_outbound_requests = 33 }");
        assert!(
            message(&limits).contains("limits.max_outbound_requests: must be between 0 and 32")
        );
    }

    #[test]
    fn a_password_import_route_may_not_fail_open() {
        let password = |extra: &str| {
            route(extra).replace(REGISTRATION, crate::hooks::password_import::EVENT_TYPE)
        };
        let open = message(&password("on_failure = \"fail-open\""));
        assert!(
            open.contains("on_failure: a password import route fails closed only"),
            "{open}"
        );
        let config = load(&password("")).unwrap();
        assert_eq!(
            config.tenants[0].routes[0].on_failure,
            FailurePolicy::FailClosed
        );
    }

    #[test]
    fn loads_tenant_with_defaults_and_resolves_rule_relative_to_the_file() {
        let config = load(&route("settings = { allowed_domains = [\"example.com\"] }")).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        let tenant = &config.tenants[0];
        assert_eq!(tenant.id, "demo");
        assert_eq!(header_secret(tenant).header.as_str(), "authorization");
        let route = &tenant.routes[0];
        let rule = route.rule.file().unwrap();
        assert!(rule.is_absolute() && rule.ends_with("rules/r.wasm"));
        assert_eq!(route.rule.name(), "r");
        assert_eq!(route.settings, r#"{"allowed_domains":["example.com"]}"#);
        assert_eq!(route.limits, Limits::default());
        assert_eq!(route.on_failure, FailurePolicy::FailClosed);
    }

    #[test]
    fn rules_may_come_from_an_oci_registry() {
        let pinned = "oci://registry.example.com/team/email-domain@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let toml = format!(
            "{TENANT}\n[[tenants.demo.routes]]\nevent_type = \"{REGISTRATION}\"\nrule = \"{pinned}\"\nshadow_rule = \"oci://127.0.0.1:5000/r:v2\"\n"
        );
        let config = load(&toml).unwrap();
        let route = &config.tenants[0].routes[0];
        assert!(
            matches!(&route.rule, RuleSource::Oci(_)),
            "{:?}",
            route.rule
        );
        assert_eq!(route.rule.to_string(), pinned);
        assert_eq!(route.rule.name(), "email-domain");
        assert_eq!(route.rule.file(), None);
        let shadow = &route.shadow.as_ref().unwrap().rule;
        assert_eq!(shadow.to_string(), "oci://127.0.0.1:5000/r:v2");
        for (rule, key) in [
            ("oci://email-domain:v1", "rule"),
            ("oci://r.example/x@sha256:12", "rule"),
        ] {
            let toml = toml.replace(pinned, rule);
            let error = load(&toml).unwrap_err().to_string();
            assert!(error.contains(&format!("routes[0].{key}: ")), "{error}");
        }
        let error = load(&toml.replace("oci://127.0.0.1:5000/r:v2", "oci://r")).unwrap_err();
        assert!(
            error.to_string().contains("routes[0].shadow_rule: "),
            "{error}"
        );
    }

    #[test]
    fn tls_files_are_relative_to_the_file_and_must_be_named() {
        let config = load(&format!(
            "[tls]\ncert = \"tls/c.pem\"\nkey = \"/k.pem\"\n{}",
            route("")
        ))
        .unwrap();
        let tls = config.tls.unwrap();
        assert!(tls.cert.is_absolute() && tls.cert.ends_with("tls/c.pem"));
        assert_eq!(tls.key, Path::new("/k.pem"));
        assert!(load(&route("")).unwrap().tls.is_none());
        let empty = message(&format!(
            "[tls]\ncert = \"\"\nkey = \"k.pem\"\n{}",
            route("")
        ));
        assert!(
            empty.contains("tls: `cert` and `key` must name the PEM files"),
            "{empty}"
        );
        let missing = message(&format!("[tls]\ncert = \"c.pem\"\n{}", route("")));
        assert!(missing.contains("key"), "{missing}");
    }

    #[test]
    fn the_decision_log_is_a_file_relative_to_the_config_or_stdout() {
        let with = |value: &str| format!("decision_log = \"{value}\"\n{}", route(""));
        let file = load(&with("log/decisions.jsonl")).unwrap().decision_log;
        let Some(decisions::Target::File(file)) = file else {
            panic!("{file:?}");
        };
        assert!(file.is_absolute() && file.ends_with("log/decisions.jsonl"));
        let stdout = load(&with("-")).unwrap().decision_log;
        assert_eq!(stdout, Some(decisions::Target::Stdout));
        assert!(load(&route("")).unwrap().decision_log.is_none());
        let empty = message(&with(""));
        assert!(
            empty.contains("decision_log: must name a file, or `-` for stdout"),
            "{empty}"
        );
    }

    #[test]
    fn settings_keep_the_order_of_the_file() {
        // A rule that turns settings into patch operations applies them in this order.
        let config = load(&route("settings = { zeta = 1, alpha = { y = 2, b = 3 } }")).unwrap();
        let route = &config.tenants[0].routes[0];
        assert_eq!(route.settings, r#"{"zeta":1,"alpha":{"y":2,"b":3}}"#);
    }

    #[test]
    fn route_limits_override_file_defaults() {
        let toml = route("limits = { deadline_ms = 250 }")
            .replace(TENANT, &format!("[limits]\nmax_memory_mb = 8\n{TENANT}"));
        let limits = &load(&toml).unwrap().tenants[0].routes[0].limits;
        assert_eq!(limits.deadline, Duration::from_millis(250));
        assert_eq!(limits.max_memory_bytes, 8 << 20);
    }

    #[test]
    fn every_limit_can_be_set_and_is_checked() {
        let toml = route(
            "limits = { fuel = 5000, max_log_kb = 0, max_response_kb = 8, max_module_kb = 2048 }",
        )
        .replace(
            "[tenants.demo.auth]",
            "[tenants.demo]\nmax_concurrent_evaluations = 3\n[tenants.demo.auth]",
        );
        let config = load(&toml).unwrap();
        let tenant = &config.tenants[0];
        assert_eq!(tenant.max_concurrent_evaluations, 3);
        let limits = &tenant.routes[0].limits;
        assert_eq!(limits.fuel, Some(5000));
        assert_eq!(limits.max_log_bytes, 0);
        assert_eq!(limits.max_response_bytes, 8 << 10);
        assert_eq!(limits.max_module_bytes, 2 << 20);
        assert_eq!(
            load(&route("")).unwrap().tenants[0].max_concurrent_evaluations,
            DEFAULT_CONCURRENT_EVALUATIONS
        );

        for (limit, key) in [
            ("fuel = 0", "routes[0].limits.fuel"),
            ("max_response_kb = 300", "routes[0].limits.max_response_kb"),
            ("max_module_kb = 0", "routes[0].limits.max_module_kb"),
        ] {
            let message = message(&route(&format!("limits = {{ {limit} }}")));
            assert!(
                message.contains(&format!("tenant `demo`: {key}: must be between")),
                "{message}"
            );
        }
        let zero = toml.replace(
            "max_concurrent_evaluations = 3",
            "max_concurrent_evaluations = 0",
        );
        assert!(
            message(&zero).contains("tenant `demo`: max_concurrent_evaluations: must be between 1")
        );
    }

    #[test]
    fn weights_and_circuit_breakers_can_be_configured() {
        let toml = format!(
            "[circuit_breaker]\nfailures = 3\n{}",
            route("circuit_breaker = { cool_down_ms = 250 }")
        )
        .replace(
            "[tenants.demo.auth]",
            "[tenants.demo]\nweight = 4\n[tenants.demo.auth]",
        );
        let config = load(&toml).unwrap();
        let tenant = &config.tenants[0];
        assert_eq!(tenant.weight, 4);
        let breaker = tenant.routes[0].circuit_breaker;
        assert_eq!(
            (breaker.failures, breaker.cool_down),
            (3, Duration::from_millis(250))
        );
        let default = &load(&route("")).unwrap().tenants[0];
        assert_eq!(default.weight, 1);
        assert_eq!(default.routes[0].circuit_breaker, BreakerConfig::default());
        for (bad, expected) in [
            (
                toml.replace("weight = 4", "weight = 0"),
                "tenant `demo`: weight: must be between 1",
            ),
            (
                toml.replace("cool_down_ms = 250", "cool_down_ms = 0"),
                "tenant `demo`: routes[0].circuit_breaker.cool_down_ms: must be between 1",
            ),
            (
                toml.replace("failures = 3", "failures = 5000"),
                "circuit_breaker.failures: must be at most",
            ),
        ] {
            let message = message(&bad);
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn cache_and_watch_can_be_configured() {
        let config = load(&route("")).unwrap();
        assert!(config.watch);
        assert_eq!(config.cache_dir, default_cache_dir());
        let config = load(&format!("watch = false\ncache_dir = \"\"\n{}", route(""))).unwrap();
        assert!(!config.watch);
        assert_eq!(config.cache_dir, None);
        let config = load(&format!("cache_dir = \"cache\"\n{}", route(""))).unwrap();
        assert!(config.cache_dir.unwrap().ends_with("cache") && config.file.is_absolute());
    }

    #[test]
    fn lenient_loading_sets_invalid_tenants_aside() {
        let broken = route("")
            .replace("demo", "other")
            .replace("secrets = [", "secrets = [\"\", ");
        let both = format!("{}\n{broken}", route(""));
        let config = Config::load_lenient(&write(&both), None).unwrap();
        assert_eq!(config.tenants.len(), 1);
        assert_eq!(config.invalid_tenants[0].0, "other");
        assert!(message(&both).contains("tenant `other`: auth.secrets"));
    }

    #[test]
    fn secrets_can_come_from_the_environment() {
        // PATH is set in every test environment; setting a variable would need `unsafe`.
        let toml = TENANT.replace("secrets = ", "secrets_from_env = [\"PATH\"]\n#");
        let config = load(&toml).unwrap();
        assert_eq!(
            header_secret(&config.tenants[0]).secrets,
            vec![std::env::var("PATH").unwrap()]
        );
        let missing = toml.replace("PATH", "WASMHOOK_TEST_UNSET_VARIABLE");
        assert!(message(&missing).contains(
            "tenant `demo`: auth.secrets_from_env: environment variable `WASMHOOK_TEST_UNSET_VARIABLE` is not set"
        ));
    }

    #[test]
    fn errors_name_the_file_tenant_and_key() {
        let cases = [
            (
                route("limits = { deadline_ms = 5000 }"),
                "tenant `demo`: routes[0].limits.deadline_ms: must be between 1 and 3000",
            ),
            (
                route("request_type = \"x\""),
                "tenant `demo`: routes[0].request_type: `x` is not a registration",
            ),
            (
                route("").replace(REGISTRATION, "com.okta.example.unknown"),
                "tenant `demo`: routes[0].event_type:",
            ),
            (
                route("request_type = \"x\"")
                    .replace(REGISTRATION, "com.okta.oauth2.tokens.transform"),
                "tenant `demo`: routes[0].request_type: `com.okta.oauth2.tokens.transform` calls have no request type",
            ),
            (
                route("limits = { max_memory_mb = 0 }"),
                "tenant `demo`: routes[0].limits.max_memory_mb: must be between 1",
            ),
            (
                format!("{}\n{}", route(""), &route("")[TENANT.len()..]),
                "tenant `demo`: routes[1]: another route",
            ),
            (
                TENANT.replace("\"Authorization\"", "\"bad header\""),
                "tenant `demo`: auth.header:",
            ),
            (
                TENANT.replace("[\"Basic YWRtaW46c3VwZXJzZWNyZXQ=\"]", "[]"),
                "tenant `demo`: auth.secrets: at least one",
            ),
            (TENANT.replace("demo", "\"de mo\""), "tenant `de mo`: id:"),
        ];
        for (toml, expected) in cases {
            let message = message(&toml);
            assert!(message.contains(".toml: "), "names the file: {message}");
            assert!(
                message.contains(expected),
                "{message}\n  does not contain: {expected}"
            );
        }
    }

    #[test]
    fn every_invalid_tenant_is_reported_one_per_line() {
        let other = TENANT.replace("demo", "other");
        let toml = format!(
            "{}\n{other}\n[[tenants.other.routes]]\nevent_type = \"x\"\nrule = \"r.wasm\"\n",
            route("limits = { deadline_ms = 0 }")
        );
        let problems = load(&toml).unwrap_err();
        assert_eq!(problems.0.len(), 2, "{problems}");
        let text = problems.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "2 problems:", "{text}");
        assert!(
            lines[1].contains("tenant `demo`: routes[0].limits.deadline_ms"),
            "{text}"
        );
        assert!(
            lines[2].contains("tenant `other`: routes[0].event_type"),
            "{text}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_syntax_are_reported_with_their_position() {
        let typo = message(&route("deadline = 10"));
        assert!(typo.contains("unknown field `deadline`"), "{typo}");
        let syntax = message("listen = ");
        assert!(syntax.contains("line 1"), "{syntax}");
        let file = Config::load(Path::new("/nonexistent/wasmhook.toml"), None).unwrap_err();
        assert!(
            file.to_string()
                .starts_with("/nonexistent/wasmhook.toml: cannot read the file")
        );
    }
}
