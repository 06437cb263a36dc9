//! End to end over HTTP with keep-alive, in one run on the same machine:
//! (a) wasmhook serving the quickstart (the email-domain rule as a sandboxed component),
//! (b) the same logic compiled natively into a minimal hyper handler (the ceiling), and
//! (c) a bare hyper server answering 204 (the limit).
//! Needs `wrk` (apt-get install wrk) and the rules built (`make rules`). Run from the repository root:
//!
//!     cargo bench -p wasmhook --bench end_to_end [-- <seconds per run, default 10> <connections, default 8> [<only servers whose name contains this>]]
//!
//! With `-- serve <off|info>` it only serves, with logging off or at `info`, prints
//! `SERVING native=<address> bare=<address> wasmhook=<address>` and waits: for
//! `benches/instructions.sh`, which counts the instructions each server spends per request
//! under valgrind.
//!
//! Every server runs in this process on 2 tokio workers; wrk (one thread) shares the machine.
//! wasmhook runs twice: with logging off, and with its default `info` level (one line per call,
//! written to a temporary file).

mod proc_stat;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use wasmhook::hooks::registration::{self, Command as RuleCommand, Decision, Flow};
use wasmhook::okta::{Answer, ErrorCause, HookCall, HookError, MAX_RESPONSE_BYTES};

// The allocator the server uses (see host/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";
/// The quickstart route's settings.
const SETTINGS: &str = r#"{"allowed_domains":["example.com"]}"#;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let seconds = args.get(1).map_or("10", String::as_str).to_owned();
    let connections = args.get(2).map_or("8", String::as_str).to_owned();
    // Optional: run only the servers whose name contains this text (the first always sets the
    // baseline of the ratio column).
    let only = args.get(3).cloned().unwrap_or_default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // The server logs one line per call at `info`, its default level: measured with logging off
    // and on (to a file, as under a service manager).
    let log_file = std::env::temp_dir().join(format!("wasmhook-bench-{}.log", std::process::id()));
    let (level, log_level) = reload::Layer::new(LevelFilter::OFF);
    // The server's own writer: a thread of its own, batching the lines (telemetry.rs).
    let (writer, _flushed_at_exit) =
        wasmhook::telemetry::background(std::fs::File::create(&log_file).unwrap());
    tracing_subscriber::registry()
        .with(level)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        )
        .init();

    let (wasm, native, bare) = executor.block_on(async {
        let config = wasmhook::config::Config::load(
            &root.join("examples/quickstart.toml"),
            Some("127.0.0.1:0".parse().unwrap()),
        )
        .expect("the quickstart config loads (build the rules with `make rules`)");
        let app = Arc::new(wasmhook::app::App::load(&config).await.unwrap());
        let listener = TcpListener::bind(config.listen).await.unwrap();
        let wasm = listener.local_addr().unwrap();
        tokio::spawn(wasmhook::http::serve(
            listener,
            app,
            Box::pin(std::future::pending()),
        ));
        (
            wasm,
            serve(native_email_domain).await,
            serve(bare_204).await,
        )
    });

    if args.get(1).is_some_and(|mode| mode == "serve") {
        let level = match args.get(2).map(String::as_str) {
            Some("info") => LevelFilter::INFO,
            _ => LevelFilter::OFF,
        };
        log_level.modify(|filter| *filter = level).unwrap();
        println!("SERVING native={native} bare={bare} wasmhook={wasm}");
        executor.block_on(std::future::pending::<()>());
    }
    println!(
        "| server ({connections} connections, {seconds} s each) | requests/s | p50 | p99 | p99.9 | vs native | server CPU per request |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut native_rps = 0.0;
    for (name, address, level) in [
        ("(b) native handler (ceiling)", native, LevelFilter::OFF),
        ("(c) bare hyper 204 (limit)", bare, LevelFilter::OFF),
        (
            "(a) wasmhook, wasm rule, logging off",
            wasm,
            LevelFilter::OFF,
        ),
        (
            "(a) wasmhook, wasm rule, a log line per call (default)",
            wasm,
            LevelFilter::INFO,
        ),
    ] {
        if !name.contains(&only) {
            continue;
        }
        log_level.modify(|filter| *filter = level).unwrap();
        let url = format!("http://{address}/hooks/demo");
        let cpu_before = proc_stat::cpu_seconds();
        let fixture = root.join("tests/fixtures/okta/registration-ssr-oie.json");
        let output = Command::new("wrk")
            .args([
                "-t1",
                "-c",
                &connections,
                "-d",
                &format!("{seconds}s"),
                "-s",
            ])
            .arg(root.join("benches/post.lua"))
            .arg(&url)
            .arg("--")
            .arg(&fixture)
            .output()
            .expect("wrk runs (apt-get install wrk)");
        let cpu = proc_stat::cpu_seconds() - cpu_before;
        let text = String::from_utf8_lossy(&output.stdout);
        let result = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .expect("wrk's RESULT line");
        let field = |key: &str| -> f64 {
            result
                .split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(field("errors"), 0.0, "{name}: wrk saw errors");
        let rps = field("rps");
        if native_rps == 0.0 {
            native_rps = rps;
        }
        let ms = |us: f64| format!("{:.2} ms", us / 1e3);
        println!(
            "| {name} | {rps:.0} | {} | {} | {} | {:.2}× | {:.1} µs |",
            ms(field("p50")),
            ms(field("p99")),
            ms(field("p999")),
            rps / native_rps,
            cpu * 1e6 / (rps * field("seconds")),
        );
    }
    let _ = std::fs::remove_file(log_file);
}

async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service =
                service_fn(
                    move |request| async move { Ok::<_, Infallible>(handler(request).await) },
                );
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    address
}

async fn bare_204(_request: Request<Incoming>) -> Response<Full<Bytes>> {
    status(StatusCode::NO_CONTENT)
}

/// The email-domain rule's logic, compiled into the host: same authentication check, same request
/// parsing and same answer rendering as the server; only the sandboxed evaluation is replaced.
async fn native_email_domain(request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request
        .headers()
        .get("authorization")
        .is_none_or(|v| v.as_bytes() != SECRET.as_bytes())
    {
        return status(StatusCode::UNAUTHORIZED);
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let call = HookCall::parse(&body).unwrap();
    let flow = Flow::SelfServiceRegistration;
    // What the rule does with the request it is given.
    let request = registration::request(&call, flow, SETTINGS);
    let settings: serde_json::Value = serde_json::from_str(&request.settings).unwrap();
    let allowed = settings["allowed_domains"].as_array().unwrap();
    let email = request
        .user_profile
        .iter()
        .find(|a| a.name == "email")
        .and_then(|a| serde_json::from_str::<String>(&a.value).ok());
    let domain = email.as_deref().and_then(wasmhook_sdk::email_domain);
    let domain_allowed = domain.is_some_and(|d| {
        allowed
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.eq_ignore_ascii_case(&d)))
    });
    let decision = if domain_allowed {
        Decision {
            commands: vec![],
            error: None,
            debug_context: None,
        }
    } else {
        Decision {
            commands: vec![RuleCommand::Deny],
            error: Some(HookError {
                error_summary: "Incorrect email address. Please contact your admin.".into(),
                error_causes: vec![ErrorCause {
                    error_summary: "Only emails from example.com can register.".into(),
                    reason: "INVALID_EMAIL_DOMAIN".into(),
                    location_type: "body".into(),
                    location: "data.userProfile.email".into(),
                    domain: "end-user".into(),
                }],
            }),
            debug_context: None,
        }
    };
    match registration::render(decision, flow, MAX_RESPONSE_BYTES).unwrap() {
        Answer::NoChange => status(StatusCode::NO_CONTENT),
        Answer::Commands(body) | Answer::Deny(body) => Response::new(Full::new(Bytes::from(body))),
    }
}

fn status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}
