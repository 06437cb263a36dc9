//! The Kubernetes manifests in `deploy/kubernetes/` (schema-validated by `make deploy-check`):
//! the config their ConfigMap carries is one the server accepts, on the ports the Deployment
//! exposes, the kustomization lists every manifest, and the Deployment's rolling update, played
//! out with real servers behind a stand-in for the Service, loses no call.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

use crate::common::{
    AUTH, Reply, SSR_OIE, ServeProcess, built_rules, email_domain_tenant, repo_root, text,
    try_send, write_config,
};

fn manifest(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("deploy/kubernetes").join(name)).unwrap()
}

/// The `config.toml: |` block of the ConfigMap, unindented.
fn configmap_config() -> String {
    let configmap = manifest("configmap.yaml");
    let block = configmap
        .split_once("config.toml: |\n")
        .expect("the ConfigMap holds config.toml")
        .1;
    block
        .lines()
        .take_while(|line| line.is_empty() || line.starts_with("    "))
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_configmap_holds_a_config_the_server_accepts_on_the_deployments_ports() {
    let config = configmap_config();
    assert!(
        config.contains("[tls]") && config.contains("admin_listen"),
        "{config}"
    );
    // The image's rules folder, here: where the rules are built.
    let local = config.replace(
        "/opt/wasmhook/rules/",
        &format!("{}/", built_rules().display()),
    );
    let file = write_config(&local);
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["check", "--config", &file.display().to_string()])
        .env("DEMO_HOOK_SECRET", "Basic c2VjcmV0OnZhbHVl")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let deployment = manifest("deployment.yaml");
    for (key, port) in [("listen", "8443"), ("admin_listen", "9090")] {
        assert!(
            config.contains(&format!("{key} = \"0.0.0.0:{port}\"")),
            "{key}"
        );
        assert!(
            deployment.contains(&format!("containerPort: {port}")),
            "{port}"
        );
    }
    assert!(deployment.contains("/etc/wasmhook/config/config.toml"));
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization = manifest("kustomization.yaml");
    let folder = repo_root().join("deploy/kubernetes");
    for entry in std::fs::read_dir(folder).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                kustomization.contains(&format!("- {name}")),
                "{name} is not listed"
            );
        }
    }
}

/// A Service in front of pods, as kube-proxy makes one: each new connection goes to the next of
/// the endpoints (pods that are ready and not terminating); a connection stays with its pod.
struct Service {
    address: SocketAddr,
    endpoints: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Service {
    async fn start() -> Service {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let endpoints: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
        let routing = endpoints.clone();
        tokio::spawn(async move {
            for next in 0usize.. {
                let (mut client, _) = listener.accept().await.unwrap();
                let pods = routing.lock().unwrap().clone();
                let Some(&pod) = pods.get(next % pods.len().max(1)) else {
                    continue; // no endpoint: the client's connection is closed
                };
                tokio::spawn(async move {
                    if let Ok(mut pod) = tokio::net::TcpStream::connect(pod).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut pod).await;
                    }
                });
            }
        });
        Service { address, endpoints }
    }

    fn add(&self, pod: SocketAddr) {
        self.endpoints.lock().unwrap().push(pod);
    }

    fn remove(&self, pod: SocketAddr) {
        self.endpoints.lock().unwrap().retain(|&p| p != pod);
    }
}

/// A pod of the Deployment: `wasmhook serve`, added to the Service once `/readyz` answers.
fn start_pod(config: &std::path::Path, service: &Service) -> ServeProcess {
    let pod = ServeProcess::start(config, "info");
    assert_eq!(pod.get("/readyz").status, 200);
    service.add(pod.address);
    pod
}

/// What the load saw: answers that were right, and every call that failed or was wrong.
#[derive(Default)]
struct Tally {
    answered: usize,
    failed: Vec<String>,
}

/// Calls through `service` until `stop`, alternating an allowed and a denied registration and
/// checking each answer; with `keep_alive`, on one connection at a time, as a load balancer's
/// pool does (a new one after the server says `connection: close` or closes it between calls),
/// else on a new connection per call.
async fn load(service: SocketAddr, keep_alive: bool, stop: Arc<AtomicBool>) -> Tally {
    let denied = SSR_OIE.replace("@example.com", "@evilexample.com");
    let mut tally = Tally::default();
    let mut connection: Option<http1::SendRequest<Full<Bytes>>> = None;
    for n in 0usize.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let allowed = n % 2 == 0;
        let body = if allowed { SSR_OIE } else { &denied };
        let reply = if keep_alive {
            keep_alive_call(service, &mut connection, body).await
        } else {
            try_send(service, "POST", "/hooks/t", &[AUTH], body.to_owned().into()).await
        };
        match reply {
            Ok(reply) if allowed && reply.status == 204 => tally.answered += 1,
            Ok(reply) if !allowed && reply.body.contains("\"DENY\"") => tally.answered += 1,
            Ok(reply) => tally.failed.push(format!("wrong answer: {reply:?}")),
            Err(error) => tally.failed.push(error),
        }
    }
    tally
}

/// One call on the kept connection (a new one if there is none or the server closed it).
async fn keep_alive_call(
    service: SocketAddr,
    connection: &mut Option<http1::SendRequest<Full<Bytes>>>,
    body: &str,
) -> Result<Reply, String> {
    if connection.as_mut().is_none_or(|c| c.is_closed()) {
        let stream = tokio::net::TcpStream::connect(service)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(driver);
        *connection = Some(sender);
    }
    let sender = connection.as_mut().unwrap();
    if sender.ready().await.is_err() {
        // Closed by the server between calls, before this call was sent: a client's pool
        // notices this and takes a new connection, which costs the call nothing.
        *connection = None;
        return Box::pin(keep_alive_call(service, connection, body)).await;
    }
    let request = http::Request::post("/hooks/t")
        .header("host", service.to_string())
        .header(AUTH.0, AUTH.1)
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await;
    let response = response.map_err(|e| format!("kept connection: {e}"))?;
    if response
        .headers()
        .get("connection")
        .is_some_and(|v| v == "close")
    {
        *connection = None;
    }
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await;
    let body = body.map_err(|e| format!("body: {e}"))?.to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The Deployment's rolling update (maxSurge 1, maxUnavailable 0, a preStop pause) on two
/// replicas while calls keep coming, on new connections and on kept ones: a new pod joins the
/// Service once ready, then an old one leaves the endpoints, pauses, gets SIGTERM and drains.
/// Not one call fails or gets a wrong answer.
#[test]
fn a_rolling_update_of_two_replicas_loses_no_call() {
    const PRE_STOP: Duration = Duration::from_millis(1000);
    let config = write_config(&format!("watch = false\n{}", email_domain_tenant("t")));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let service = runtime.block_on(Service::start());
    let mut pods: Vec<_> = (0..2).map(|_| start_pod(&config, &service)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = [false, false, true, true]
        .into_iter()
        .map(|keep_alive| runtime.spawn(load(service.address, keep_alive, stop.clone())))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut retired = Vec::new();
    for _ in 0..2 {
        let new = start_pod(&config, &service);
        let old = pods.remove(0);
        service.remove(old.address);
        std::thread::sleep(PRE_STOP);
        retired.push(old.stop());
        pods.push(new);
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for client in clients {
        let tally = runtime.block_on(client).unwrap();
        total.answered += tally.answered;
        total.failed.extend(tally.failed);
    }
    assert!(
        total.failed.is_empty(),
        "{} failed: {:?}",
        total.failed.len(),
        total.failed
    );
    assert!(
        total.answered > 200,
        "only {} calls answered",
        total.answered
    );
    for log in &retired {
        assert!(
            log.contains("all connections closed"),
            "the old pod drained:\n{log}"
        );
    }
    let new_pods_answered = pods
        .into_iter()
        .map(|pod| pod.stop().matches("hook answered").count())
        .min();
    assert!(new_pods_answered > Some(0), "both new pods took calls");
}
