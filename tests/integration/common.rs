//! Shared test support: building the rules once, starting servers, sending requests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wasmhook::app::App;
use wasmhook::config::Config;

pub const AUTH: (&str, &str) = ("authorization", "Basic YWRtaW46c3VwZXJzZWNyZXQ=");

pub const SSR_OIE: &str = include_str!("../fixtures/okta/registration-ssr-oie.json");
pub const SSR_CLASSIC: &str = include_str!("../fixtures/okta/registration-ssr-classic.json");
pub const PP_OIE: &str = include_str!("../fixtures/okta/registration-progressive-oie.json");
pub const TOKEN: &str = include_str!("../fixtures/okta/token-transform.json");
pub const SAML: &str = include_str!("../fixtures/okta/saml-transform.json");

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
}

pub fn quickstart_config() -> PathBuf {
    built_rules();
    repo_root().join("examples/quickstart.toml")
}

/// Builds every rule in `rules/`, in every language (`rules/build.sh`), once per test run, and
/// returns `rules/target`. The script skips what is up to date.
pub fn rules_target() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let rules = repo_root().join("rules");
        let status = Command::new(rules.join("build.sh"))
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("rules/build.sh runs");
        assert!(
            status.success(),
            "building rules/ failed; run `make setup` for the toolchains"
        );
        let target = rules.join("target");
        warm_compile_cache(&target);
        target
    })
}

/// Compiles the big rules (Python, JavaScript) once into the compile cache every test server
/// uses (the default one), so that servers started at the same moment load them from the cache
/// instead of each compiling them again (seconds of CPU apiece).
fn warm_compile_cache(target: &Path) {
    let cache = wasmhook::config::default_cache_dir();
    let runtime = wasmhook::runtime::Runtime::new(cache.as_deref()).expect("engine");
    let big = ["python", "javascript"].into_iter().flat_map(|language| {
        [
            "email_domain",
            "token_claims",
            "saml_attributes",
            "password_legacy_store",
            "telephony_sms_provider",
            "user_import_normalise",
            "event_forward",
        ]
        .map(|rule| format!("{language}/{rule}.wasm"))
    });
    for rule in big {
        runtime
            .load(&target.join(&rule), u64::MAX)
            .unwrap_or_else(|error| panic!("{rule}: {error}"));
    }
}

/// The folder of the Rust rules.
pub fn built_rules() -> PathBuf {
    rules_target().join("wasm32-wasip2/release")
}

/// A Rust rule, by file stem.
pub fn rule(name: &str) -> PathBuf {
    built_rules().join(format!("{name}.wasm"))
}

/// Runs the `wasmhook` binary with `args` and waits for it.
pub fn wasmhook(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(args)
        .output()
        .unwrap()
}

/// Output bytes as text, for assertions and their messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The path of the Okta payload fixture `name` (in `tests/fixtures/okta`), as an argument.
pub fn fixture(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/okta")
        .join(name)
        .display()
        .to_string()
}

/// A tenant `id` with the quickstart secret whose registration calls (every request type) go to
/// `rule`, with `settings` as a TOML inline table and `extra` route keys.
pub fn tenant_toml(id: &str, rule: &Path, settings: &str, extra: &str) -> String {
    hook_tenant_toml(id, "com.okta.user.pre-registration", rule, settings, extra)
}

/// A tenant `id` with the quickstart secret whose `event_type` calls go to `rule`, with
/// `settings` as a TOML inline table and `extra` route keys.
pub fn hook_tenant_toml(
    id: &str,
    event_type: &str,
    rule: &Path,
    settings: &str,
    extra: &str,
) -> String {
    format!(
        "[tenants.{id}.auth]\ntype = \"header-secret\"\nheader = \"authorization\"\nsecrets = [\"{secret}\"]\n\
         [[tenants.{id}.routes]]\nevent_type = \"{event_type}\"\nrule = \"{rule}\"\n\
         settings = {settings}\n{extra}\n",
        secret = AUTH.1,
        rule = rule.display(),
    )
}

/// A config with one tenant `t` whose registration calls run the `misbehave` rule with
/// `behaviour`, plus `extra` route keys.
pub fn misbehave_config(behaviour: &str, extra: &str) -> String {
    let settings = format!("{{ behaviour = \"{behaviour}\" }}");
    tenant_toml("t", &rule("misbehave"), &settings, extra)
}

/// A tenant `id` running the Rust email-domain rule, allowing `example.com`.
pub fn email_domain_tenant(id: &str) -> String {
    let settings = "{ allowed_domains = [\"example.com\"] }";
    tenant_toml(id, &rule("email_domain"), settings, "")
}

/// Writes `toml` to a fresh temporary file and returns its path.
pub fn write_config(toml: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wasmhook-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("config-{n}.toml"));
    std::fs::write(&file, toml).unwrap();
    file
}

/// A server running in this process on an ephemeral loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
    }
}

impl TestServer {
    pub async fn start(config: &Path) -> TestServer {
        let config = Config::load(config, Some("127.0.0.1:0".parse().unwrap())).unwrap();
        let app = Arc::new(App::load(&config).await.unwrap());
        wasmhook::events::configure(&app, &config).unwrap();
        wasmhook::reload::spawn(app.clone(), &config).unwrap();
        let listener = TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel();
        let task = tokio::spawn(wasmhook::http::serve(
            listener,
            app,
            Box::pin(async {
                let _ = stop.await;
            }),
        ));
        TestServer {
            addr,
            shutdown: Some(shutdown),
            task,
        }
    }

    pub async fn quickstart() -> TestServer {
        TestServer::start(&quickstart_config()).await
    }

    pub async fn with_config(toml: &str) -> TestServer {
        TestServer::start(&write_config(toml)).await
    }

    /// `POST path` with the quickstart credentials.
    pub async fn hook(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, &[AUTH], body.to_owned()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], String::new()).await
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        send(self.addr, method, path, headers, body.into()).await
    }

    /// Stops accepting, waits for requests in flight, and returns once the server has stopped.
    pub async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        (&mut self.task).await.unwrap();
    }
}

/// Sends one request on a new connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    try_send(addr, method, path, headers, body).await.unwrap()
}

/// Sends one request on a new connection; how it failed if no answer came back.
pub async fn try_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Reply, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::new(body)).unwrap())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    })
}

/// Sends `calls` concurrent calls of `body` to `path`, each on its own connection, and returns
/// the replies.
pub async fn burst(server: &Arc<TestServer>, path: &str, body: &str, calls: usize) -> Vec<Reply> {
    let calls: Vec<_> = (0..calls)
        .map(|_| {
            let (server, path, body) = (server.clone(), path.to_owned(), body.to_owned());
            tokio::spawn(async move { server.hook(&path, &body).await })
        })
        .collect();
    let mut replies = Vec::new();
    for call in calls {
        replies.push(call.await.unwrap());
    }
    replies
}

/// Asserts `reply` is the registration failure policy's generic denial, with no internals.
pub fn assert_fail_closed(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["commands"][0]["type"], "com.okta.action.update");
    assert_eq!(body["commands"][0]["value"]["registration"], "DENY");
    let summary = body["error"]["errorSummary"].as_str().unwrap();
    assert!(summary.contains("cannot be completed"), "{summary}");
    for leak in ["wasm", "trap", "deadline", "memory", "panic", "backtrace"] {
        assert!(
            !reply.body.to_lowercase().contains(leak),
            "answer leaks `{leak}`: {}",
            reply.body
        );
    }
}

/// The `wasmhook serve` binary, started on an ephemeral port, with its log lines readable while
/// it runs. A thread drains its stderr from the start, so a chatty server never blocks on a full
/// pipe, and keeps every line for [`ServeProcess::stop`].
pub struct ServeProcess {
    pub child: std::process::Child,
    pub address: SocketAddr,
    lines: std::sync::mpsc::Receiver<String>,
    log: Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ServeProcess {
    /// `wasmhook serve --log-format json` at `log_level`.
    pub fn start(config: &Path, log_level: &str) -> ServeProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmhook"));
        command.args(["--log-format", "json"]);
        ServeProcess::spawn(command, config, log_level)
    }

    /// `command` (the binary, or a wrapper such as `prlimit … wasmhook`, with any global
    /// arguments) followed by `serve --config <config> --listen 127.0.0.1:0`.
    pub fn spawn(mut command: Command, config: &Path, log_level: &str) -> ServeProcess {
        use std::io::BufRead;
        let mut child = command
            .args(["serve", "--config", &config.display().to_string()])
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", log_level)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let (send, lines) = std::sync::mpsc::channel();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        let reader = std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = send.send(line);
            }
        });
        let mut server = ServeProcess {
            child,
            address: "0.0.0.0:0".parse().unwrap(),
            lines,
            log,
            reader: Some(reader),
        };
        let listening = server.wait_for_line(|line| line.contains("wasmhook listening"));
        let address = listening
            .split(|c: char| c == '"' || c.is_whitespace())
            .find_map(|word| {
                word.trim_start_matches("address=")
                    .parse::<SocketAddr>()
                    .ok()
            })
            .expect("the `wasmhook listening` line names the address");
        server.address = address;
        server
    }

    /// Sends one hook call with `body` to `/hooks/{tenant}`, with the quickstart secret.
    pub fn call(&self, tenant: &str, body: &str) -> Reply {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let path = format!("/hooks/{tenant}");
        runtime.block_on(send(
            self.address,
            "POST",
            &path,
            &[AUTH],
            body.to_owned().into(),
        ))
    }

    /// Sends `GET path` without credentials.
    pub fn get(&self, path: &str) -> Reply {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(send(self.address, "GET", path, &[], Default::default()))
    }

    /// Reads log lines until one satisfies `found`, and returns it; panics after 10 s.
    pub fn wait_for_line(&self, found: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if found(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no such log line in:\n{}",
                    self.log.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (e.g. `TERM`, `HUP`) to the server.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Stops the server with SIGTERM, checks it exits 0, and returns its whole log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        let log = self.log().join("\n");
        assert!(
            status.success(),
            "serve exits 0 on SIGTERM, not {status}:\n{log}"
        );
        log
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a server behind.
        let _ = self.child.kill();
    }
}
