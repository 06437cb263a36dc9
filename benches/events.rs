//! Event hooks under load: deliveries POSTed to a `wasmhook serve` process (default config and
//! log level, its queue on this machine's disk) as fast as a few keep-alive connections allow,
//! each delivery with its own `eventId` and each event its own `uuid`. Every event is routed to
//! the `event-forward` rule (Rust), which POSTs it to a sink served by this process.
//!
//! For each batch size (events per delivery) it reports: events/s acknowledged (a 200 only once
//! the batch is on disk), the acknowledgement latency p50 and p99, events/s processed (from the
//! first POST until the sink has every event), and the server's CPU time per event. Needs the
//! rules built (`make rules`). Run from the repository root:
//!
//!     cargo bench -p wasmhook --bench events [-- <events per run, default 20000> <connections, default 8>]
//!
//! `SERVER_LOG=<file>` keeps the server's log (JSON lines) of the last run.
//!
//! The server, the client and the sink share the machine: absolute figures move with its load,
//! so compare rows of one run.

mod proc_stat;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const SECRET: &str = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";
/// Events per delivery, one row each.
const BATCHES: [usize; 3] = [1, 10, 50];

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let events: usize = args.get(1).map_or(20_000, |n| n.parse().expect("events"));
    let connections: usize = args.get(2).map_or(8, |n| n.parse().expect("connections"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rule = root.join("rules/target/wasm32-wasip2/release/event_forward.wasm");
    assert!(
        rule.exists(),
        "{}: build the rules with `make rules`",
        rule.display()
    );
    let executor = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sink = executor.block_on(Sink::start());

    println!(
        "| events per delivery | events | acknowledged events/s | ack p50 | ack p99 | processed events/s | server CPU per event |"
    );
    println!("|---|---|---|---|---|---|---|");
    for batch in BATCHES {
        let dir =
            std::env::temp_dir().join(format!("wasmhook-bench-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let server = Server::start(&dir, &rule, sink.address);
        sink.reset();
        let deliveries = events.div_ceil(batch);
        let total = deliveries * batch;
        let cpu_before = proc_stat::cpu_seconds_of(server.child.id());
        let started = Instant::now();
        let mut latencies =
            executor.block_on(deliver(server.address, deliveries, batch, connections));
        let acknowledged = started.elapsed();
        let processed = sink.wait_for(total, Duration::from_secs(600)) - started;
        let cpu = proc_stat::cpu_seconds_of(server.child.id()) - cpu_before;
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        latencies.sort();
        let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
        println!(
            "| {batch} | {total} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.0} µs |",
            total as f64 / acknowledged.as_secs_f64(),
            percentile(50).as_secs_f64() * 1e3,
            percentile(99).as_secs_f64() * 1e3,
            total as f64 / processed.as_secs_f64(),
            cpu / total as f64 * 1e6,
        );
    }
}

/// Sends `deliveries` deliveries of `batch` events each over `connections` connections, and
/// returns each one's acknowledgement latency. Panics on any answer but 200.
async fn deliver(
    server: SocketAddr,
    deliveries: usize,
    batch: usize,
    connections: usize,
) -> Vec<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                let stream = TcpStream::connect(server).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut latencies = Vec::new();
                loop {
                    let number = next.fetch_add(1, Ordering::Relaxed);
                    if number >= deliveries {
                        return latencies;
                    }
                    let request = Request::post("/hooks/demo")
                        .header("host", "127.0.0.1")
                        .header("authorization", SECRET)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(delivery(number, batch))))
                        .unwrap();
                    let sent = Instant::now();
                    let response = sender.send_request(request).await.unwrap();
                    let status = response.status();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    latencies.push(sent.elapsed());
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(deliveries);
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    latencies
}

/// Delivery `number`: `batch` deactivations, each of its own user, shaped as Okta sends them.
fn delivery(number: usize, batch: usize) -> String {
    let events: Vec<serde_json::Value> = (0..batch)
        .map(|event| {
            serde_json::json!({
                "uuid": format!("bench-{number}-{event}"),
                "published": "2024-05-01T10:00:00.000Z",
                "eventType": "user.lifecycle.deactivate",
                "version": "0",
                "displayMessage": "Deactivate Okta user",
                "severity": "INFO",
                "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
                "outcome": {"result": "SUCCESS", "reason": null},
                "target": [{"id": format!("00u{number}x{event}"), "type": "User",
                            "alternateId": "jane.doe@example.com", "displayName": "Jane Doe"}],
            })
        })
        .collect();
    serde_json::json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/who1",
        "eventId": format!("bench-delivery-{number}"),
        "eventTime": "2024-05-01T10:00:01.000Z",
        "contentType": "application/json",
        "data": {"events": events},
    })
    .to_string()
}

/// The endpoint the rule forwards to: answers 200 and keeps the uuids it was sent.
struct Sink {
    address: SocketAddr,
    uuids: Arc<Mutex<HashSet<String>>>,
}

impl Sink {
    async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let uuids = Arc::new(Mutex::new(HashSet::new()));
        let kept = uuids.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let kept = kept.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let kept = kept.clone();
                        async move {
                            let body = request.into_body().collect().await?.to_bytes();
                            let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                            let uuid = event["uuid"].as_str().unwrap().to_owned();
                            kept.lock().unwrap().insert(uuid);
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Sink { address, uuids }
    }

    fn reset(&self) {
        self.uuids.lock().unwrap().clear();
    }

    /// Waits until `count` distinct events have arrived, and returns when.
    fn wait_for(&self, count: usize, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        while self.uuids.lock().unwrap().len() < count {
            assert!(
                Instant::now() < deadline,
                "the events were not all processed"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        Instant::now()
    }
}

/// `wasmhook serve` with one tenant routing deactivations to `rule`, which forwards to `sink`.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(dir: &Path, rule: &Path, sink: SocketAddr) -> Server {
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[events]\nqueue = \"{queue}\"\n\
                 [tenants.demo.auth]\ntype = \"header-secret\"\nheader = \"authorization\"\nsecrets = [\"{SECRET}\"]\n\
                 [[tenants.demo.routes]]\nevent_type = \"user.lifecycle.deactivate\"\nrule = \"{rule}\"\n\
                 settings = {{ forward_url = \"http://{sink}/forward\" }}\n\
                 allowed_outbound_hosts = [\"http://{sink}\"]\n",
                queue = dir.join("events.redb").display(),
                rule = rule.display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args(["--log-format", "json", "serve", "--config"])
            .arg(&config)
            .args(["--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the server starts (see its log)")
                .unwrap();
            if !line.contains("wasmhook listening") {
                continue;
            }
            break line
                .split(|c: char| c == '"' || c.is_whitespace())
                .find_map(|word| word.parse::<SocketAddr>().ok())
                .expect("the listening line names the address");
        };
        // The log line per event goes nowhere, as to a busy log collector, unless
        // `SERVER_LOG=<file>` asks to keep it.
        let mut log =
            std::env::var_os("SERVER_LOG").map(|file| std::fs::File::create(file).unwrap());
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(log) = &mut log {
                    use std::io::Write;
                    let _ = writeln!(log, "{line}");
                }
            }
        });
        Server { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
