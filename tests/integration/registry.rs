//! Rules from an OCI registry, against a real one: Debian's `docker-registry` (CNCF
//! distribution) started by each test on 127.0.0.1 with its own storage. `wasmhook push`
//! publishes, `serve`, `check` and `eval` pull by tag and by digest, content that does not
//! match its digest is refused, and a restart without the registry serves from the local store.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

const DENIED: &str = "evilexample.com";
const SETTINGS: &str = "{ allowed_domains = [\"example.com\"] }";

/// A user of the registry's htpasswd file, and a bcrypt hash of the password (made with
/// Python's `bcrypt.hashpw`; `htpasswd -nbB` from apache2-utils makes an equivalent line).
const USER: &str = "wasmhook-ci";
const PASSWORD: &str = "reg-secret-8Kq2";
const HTPASSWD: &str = "wasmhook-ci:$2b$05$sN9Wae6vXSNtuIruHszgxek0H/t/xoFQkaaAP70AXOrdwIVpWEaey\n";

/// A `docker-registry` process with its storage in a fresh folder; killed when dropped.
struct LocalRegistry {
    child: Child,
    address: SocketAddr,
    dir: PathBuf,
}

impl LocalRegistry {
    fn start() -> LocalRegistry {
        LocalRegistry::start_with("")
    }

    /// With `auth` (a YAML `auth:` section) appended to its config.
    fn start_with(auth: &str) -> LocalRegistry {
        let dir = scratch("registry");
        let address = free_port();
        let storage = dir.join("storage");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n\
             http:\n  addr: {address}\n  secret: wasmhook-test\n{auth}",
            storage = storage.display(),
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's docker-registry is installed (`make setup` installs it)");
        let registry = LocalRegistry {
            child,
            address,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        registry
    }

    fn with_password() -> LocalRegistry {
        let dir = scratch("htpasswd");
        let file = dir.join("htpasswd");
        std::fs::write(&file, HTPASSWD).unwrap();
        LocalRegistry::start_with(&format!(
            "auth:\n  htpasswd:\n    realm: wasmhook-test\n    path: {}\n",
            file.display()
        ))
    }

    /// `oci://<registry>/<repository>`.
    fn reference(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.address)
    }

    /// The file holding the blob `digest` in the registry's storage.
    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A fresh empty folder.
fn scratch(what: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wasmhook-oci-{}-{what}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `wasmhook push <rule> <reference>` with `env`; returns the pinned reference it prints.
fn push(rule: &Path, reference: &str, env: &[(&str, &str)]) -> Result<String, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["push", &rule.display().to_string(), reference])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    match output.status.success() {
        true => Ok(stdout.trim().to_owned()),
        false => Err(stderr),
    }
}

/// A config whose cache (and so its OCI store) is `cache`, with one email-domain tenant per
/// `(tenant, rule reference)`.
fn config_with(cache: &Path, tenants: &[(&str, &str)]) -> PathBuf {
    let mut toml = format!("cache_dir = \"{}\"\nwatch = false\n", cache.display());
    for (id, rule) in tenants {
        toml.push_str(&tenant_toml(id, Path::new(rule), SETTINGS, ""));
    }
    write_config(&toml)
}

fn denied() -> String {
    SSR_OIE.replace("@example.com", &format!("@{DENIED}"))
}

/// Asserts the email-domain rule answers `tenant`'s calls: example.com allowed, others denied.
fn assert_email_domain(server: &ServeProcess, tenant: &str) {
    assert_eq!(server.call(tenant, SSR_OIE).status, 204, "tenant {tenant}");
    let denial = server.call(tenant, &denied());
    assert_eq!(
        denial.json()["commands"][0]["value"]["registration"],
        "DENY",
        "{denial:?}"
    );
}

/// The route of `tenant` in the server's detailed status.
fn route_status(server: &ServeProcess, tenant: &str) -> Value {
    let status = server.get("/readyz").json();
    status["tenants"][tenant]["routes"][0].clone()
}

#[test]
fn a_pushed_rule_serves_by_tag_and_by_digest_and_restarts_without_the_registry() {
    let registry = LocalRegistry::start();
    let tagged = format!("{}:v1", registry.reference("team/email-domain"));
    let pinned = push(&rule("email_domain"), &tagged, &[]).unwrap();
    let digest = pinned.rsplit_once('@').unwrap().1.to_owned();
    assert!(
        pinned.starts_with(&format!(
            "{}@sha256:",
            registry.reference("team/email-domain")
        )),
        "push prints the reference pinned to the digest: {pinned}"
    );

    let cache = scratch("cache");
    let config = config_with(&cache, &[("bytag", &tagged), ("bydigest", &pinned)]);
    let server = ServeProcess::start(&config, "info");
    assert_email_domain(&server, "bytag");
    assert_email_domain(&server, "bydigest");
    let route = route_status(&server, "bytag");
    assert_eq!(route["rule"], tagged.as_str(), "{route}");
    assert_eq!(
        route["digest"],
        digest.as_str(),
        "the tag's digest is shown: {route}"
    );
    let built = std::fs::read(rule("email_domain")).unwrap();
    assert_eq!(
        route["sha256"].as_str().unwrap(),
        format!("{:x}", sha2_of(&built)),
        "the pulled rule is the pushed file"
    );
    assert_eq!(route_status(&server, "bydigest")["digest"], digest.as_str());
    server.stop();

    // The registry goes away: the rules pulled before still serve, a tag from its last digest.
    registry.stop();
    let server = ServeProcess::start(&config, "info");
    assert_email_domain(&server, "bytag");
    assert_email_domain(&server, "bydigest");
    assert_eq!(route_status(&server, "bytag")["digest"], digest.as_str());
    let log = server.stop();
    assert!(
        log.contains("registry unreachable; the tag's last pulled digest serves"),
        "{log}"
    );

    // Without the registry and without the store, the config cannot load, and says why.
    let empty = config_with(&scratch("cache"), &[("bytag", &tagged)]);
    let check = wasmhook(&["check", "--config", &empty.display().to_string()]);
    let stderr = text(&check.stderr);
    assert!(!check.status.success());
    assert!(
        stderr.contains("tenant `bytag`: routes[0].rule: ") && stderr.contains(&tagged),
        "{stderr}"
    );
}

fn sha2_of(bytes: &[u8]) -> impl std::fmt::LowerHex {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
}

#[test]
fn content_that_does_not_match_its_digest_is_refused() {
    let registry = LocalRegistry::start();
    let tagged = format!("{}:v1", registry.reference("team/email-domain"));
    let pinned = push(&rule("email_domain"), &tagged, &[]).unwrap();
    let manifest_digest = pinned.rsplit_once('@').unwrap().1;
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(registry.blob_file(manifest_digest)).unwrap())
            .unwrap();
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["annotations"]["dev.wasmhook.hook"], "registration");

    // The registry's copy of the rule is replaced by another rule of the same size class: a
    // registry (or anything between) that serves other bytes than the digest names.
    let layer = registry.blob_file(layer_digest);
    std::fs::copy(rule("misbehave"), &layer).unwrap();
    for reference in [&tagged, &pinned] {
        let config = config_with(&scratch("cache"), &[("t", reference)]);
        let check = wasmhook(&["check", "--config", &config.display().to_string()]);
        let stderr = text(&check.stderr);
        assert!(!check.status.success(), "{stderr}");
        assert!(
            stderr.contains("tenant `t`: routes[0].rule: ") && stderr.contains("digest"),
            "{stderr}"
        );
    }

    // A manifest changed behind its digest is refused too.
    std::fs::write(
        registry.blob_file(manifest_digest),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let config = config_with(&scratch("cache"), &[("t", &pinned)]);
    let check = wasmhook(&["check", "--config", &config.display().to_string()]);
    assert!(!check.status.success());
    assert!(
        text(&check.stderr).contains("digest"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn a_stored_rule_damaged_on_disk_is_pulled_again() {
    let registry = LocalRegistry::start();
    let tagged = format!("{}:v1", registry.reference("team/email-domain"));
    let pinned = push(&rule("email_domain"), &tagged, &[]).unwrap();
    let cache = scratch("cache");
    let config = config_with(&cache, &[("t", &pinned)]);
    let check = wasmhook(&["check", "--config", &config.display().to_string()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let stored: Vec<_> = std::fs::read_dir(cache.join("oci/blobs/sha256"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|file| std::fs::metadata(file).unwrap().len() > 10_000)
        .collect();
    let [rule_file] = stored.as_slice() else {
        panic!("one stored rule: {stored:?}")
    };
    std::fs::write(rule_file, b"not the rule").unwrap();
    let check = wasmhook(&["check", "--config", &config.display().to_string()]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert_eq!(
        std::fs::read(rule_file).unwrap(),
        std::fs::read(rule("email_domain")).unwrap()
    );
}

#[test]
fn a_moved_tag_deploys_at_the_next_reload_and_a_wrong_rule_never_replaces_a_working_one() {
    let registry = LocalRegistry::start();
    let tagged = format!("{}:live", registry.reference("team/registration"));
    let first = push(&rule("email_domain"), &tagged, &[]).unwrap();
    let config = config_with(&scratch("cache"), &[("t", &tagged)]);
    let server = ServeProcess::start(&config, "info");
    let digest = |reference: &str| reference.rsplit_once('@').unwrap().1.to_owned();
    assert_eq!(route_status(&server, "t")["digest"], digest(&first));

    // The same logic built against the 0.1.0 WIT: another module, pushed under the same tag.
    let second = push(&rule("email_domain_wit_0_1_0"), &tagged, &[]).unwrap();
    assert_ne!(digest(&first), digest(&second));
    server.signal("HUP");
    server.wait_for_line(|line| line.contains("route serves a new rule version"));
    assert_eq!(route_status(&server, "t")["digest"], digest(&second));
    assert_email_domain(&server, "t");

    // A token rule under the tag: refused at the reload, the registration rule keeps serving.
    push(&rule("token_claims"), &tagged, &[]).unwrap();
    server.signal("HUP");
    server.wait_for_line(|line| line.contains("tenant failed to load"));
    server.wait_for_line(|line| line.contains("configuration reloaded"));
    let status = server.get("/readyz").json();
    assert_eq!(status["status"], "degraded", "{status}");
    assert_eq!(route_status(&server, "t")["digest"], digest(&second));
    assert_email_domain(&server, "t");
    server.stop();
}

#[test]
fn registry_credentials_come_from_the_environment_or_the_docker_config() {
    let registry = LocalRegistry::with_password();
    let tagged = format!("{}:v1", registry.reference("team/email-domain"));

    let refused = push(&rule("email_domain"), &tagged, &[]).unwrap_err();
    assert!(refused.contains(&tagged), "names the reference: {refused}");
    let wrong = [
        ("WASMHOOK_REGISTRY_USERNAME", USER),
        ("WASMHOOK_REGISTRY_PASSWORD", "wrong-password-3xY"),
    ];
    let refused = push(&rule("email_domain"), &tagged, &wrong).unwrap_err();
    assert!(refused.contains("refused the credentials"), "{refused}");
    assert!(!refused.contains("wrong-password-3xY"), "{refused}");

    let env = [
        ("WASMHOOK_REGISTRY_USERNAME", USER),
        ("WASMHOOK_REGISTRY_PASSWORD", PASSWORD),
    ];
    let pinned = push(&rule("email_domain"), &tagged, &env).unwrap();

    // `docker login`'s file: a server pulls with it.
    let docker = scratch("docker");
    let auth = base64_of(&format!("{USER}:{PASSWORD}"));
    std::fs::write(
        docker.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.address
        ),
    )
    .unwrap();
    let config = config_with(&scratch("cache"), &[("t", &pinned)]);
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmhook"));
    command
        .args(["--log-format", "json"])
        .env("DOCKER_CONFIG", &docker)
        .env_remove("WASMHOOK_REGISTRY_USERNAME")
        .env_remove("WASMHOOK_REGISTRY_PASSWORD");
    let server = ServeProcess::spawn(command, &config, "debug");
    assert_email_domain(&server, "t");
    let log = server.stop();
    assert!(!log.contains(PASSWORD) && !log.contains(&auth), "{log}");
    // The OCI client's debug lines carry a registry's tokens: capped at info even at debug.
    assert!(
        log.contains("\"level\":\"DEBUG\""),
        "the server logged at debug"
    );
    assert!(
        !log.lines()
            .any(|l| l.contains("\"level\":\"DEBUG\"") && l.contains("oci_client")),
        "{log}"
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn eval_runs_a_rule_from_the_registry() {
    let registry = LocalRegistry::start();
    let tagged = format!("{}:v1", registry.reference("team/email-domain"));
    let pinned = push(&rule("email_domain"), &tagged, &[]).unwrap();
    let request = scratch("request").join("denied.json");
    std::fs::write(&request, denied()).unwrap();
    let settings = r#"{"allowed_domains":["example.com"]}"#;
    let eval = wasmhook(&[
        "eval",
        "--rule",
        &pinned,
        "--request",
        &request.display().to_string(),
        "--settings",
        settings,
    ]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    let answer: Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(answer["commands"][0]["value"]["registration"], "DENY");
}

/// `eval --config` pulls through the config's cache, as the server does: a rule the server (here
/// `check`) pulled is tried as stored when the registry is out of reach. Through the default
/// cache, which never saw this registry, the tag could not be resolved.
#[test]
fn eval_with_a_config_runs_the_rule_from_its_cache_without_the_registry() {
    let registry = LocalRegistry::start();
    let tagged = format!("{}:v1", registry.reference("team/email-domain"));
    push(&rule("email_domain"), &tagged, &[]).unwrap();
    let config = config_with(&scratch("cache"), &[("bytag", &tagged)]);
    let config = config.display().to_string();
    let check = wasmhook(&["check", "--config", &config]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    registry.stop();

    let request = scratch("request").join("denied.json");
    std::fs::write(&request, denied()).unwrap();
    let request = request.display().to_string();
    let eval = wasmhook(&[
        "eval",
        "--config",
        &config,
        "--tenant",
        "bytag",
        "--request",
        &request,
    ]);
    assert!(eval.status.success(), "{}", text(&eval.stderr));
    let answer: Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(answer["commands"][0]["value"]["registration"], "DENY");
}

#[test]
fn push_refuses_a_file_that_is_not_a_rule() {
    let registry = LocalRegistry::start();
    let not_a_rule = scratch("bad").join("bad.wasm");
    std::fs::write(&not_a_rule, b"\0asm\x01\0\0\0").unwrap();
    let reference = format!("{}:v1", registry.reference("team/bad"));
    let refused = push(&not_a_rule, &reference, &[]).unwrap_err();
    assert!(
        refused.contains("is not a rule wasmhook can load"),
        "{refused}"
    );
    let refused = push(&rule("email_domain"), "registry.example.com/x:v1", &[]).unwrap_err();
    assert!(refused.contains("oci://"), "{refused}");
}
