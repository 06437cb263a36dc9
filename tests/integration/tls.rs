//! HTTPS on the hook listener (`[tls]`), with certificate authorities and certificates made by
//! the test: hook calls over TLS 1.2 and 1.3, clients that do not trust the certificate or speak
//! plain HTTP refused at the handshake, a certificate rotated by replacing its files while calls
//! run (no call fails, new connections get the new certificate), and a broken replacement that
//! leaves the working certificate serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{AUTH, SSR_OIE, TestServer, email_domain_tenant};

/// A certificate authority of the test.
struct Authority {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        Authority { certificate, key }
    }

    /// A server certificate for `127.0.0.1` and `localhost`, and its key, as PEM.
    fn issue(&self, name: &str) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        Issued {
            sha256: hex_sha256(certificate.der().as_ref()),
            cert: certificate.pem(),
            key: key.serialize_pem(),
        }
    }

    fn root(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.certificate.pem().as_bytes()).unwrap()
    }
}

struct Issued {
    cert: String,
    key: String,
    sha256: String,
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A fresh folder holding `issued` as `cert.pem` and `key.pem`, and a config serving the
/// email-domain tenant `demo` over HTTPS with them.
fn tls_config(issued: &Issued) -> (PathBuf, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wasmhook-tls-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    install(&dir, issued);
    let toml = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n{}",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display(),
        email_domain_tenant("demo")
    );
    (dir, toml)
}

/// Writes `issued` into `dir` as a deployment would: each file written beside and renamed over.
fn install(dir: &Path, issued: &Issued) {
    for (name, text) in [("key.pem", &issued.key), ("cert.pem", &issued.cert)] {
        let staged = dir.join(format!(".{name}.new"));
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, dir.join(name)).unwrap();
    }
}

/// A client trusting only `roots`, opening a new connection (and handshake) for every call.
fn client(roots: &[&Authority], version: Option<reqwest::tls::Version>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5));
    for root in roots {
        builder = builder.add_root_certificate(root.root());
    }
    if let Some(version) = version {
        builder = builder.min_tls_version(version).max_tls_version(version);
    }
    builder.build().unwrap()
}

async fn call(client: &reqwest::Client, server: &TestServer) -> reqwest::Result<(u16, String)> {
    let response = client
        .post(format!(
            "https://127.0.0.1:{}/hooks/demo",
            server.addr.port()
        ))
        .header(AUTH.0, AUTH.1)
        .header("content-type", "application/json")
        .body(SSR_OIE)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

async fn status(client: &reqwest::Client, server: &TestServer) -> Value {
    let url = format!("https://127.0.0.1:{}/readyz", server.addr.port());
    let text = client.get(url).send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn hook_calls_are_answered_over_tls_1_2_and_1_3_and_untrusted_or_plain_clients_are_refused() {
    let authority = Authority::new("wasmhook test CA");
    let (_dir, toml) = tls_config(&authority.issue("first"));
    let server = TestServer::with_config(&toml).await;
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let (status, body) = call(&client(&[&authority], Some(version)), &server)
            .await
            .unwrap_or_else(|error| panic!("{version:?}: {error:?}"));
        assert!(
            status == 204 || status == 200,
            "{version:?}: {status} {body}"
        );
        assert!(!body.contains("DENY"), "{body}");
    }
    // A client that trusts another authority refuses the handshake.
    let stranger = Authority::new("another CA");
    let refused = call(&client(&[&stranger], None), &server).await;
    assert!(refused.is_err(), "{refused:?}");
    // Plain HTTP to the HTTPS port gets no HTTP answer, and is counted.
    let answer = plain_http(server.addr).await;
    assert!(
        !answer.starts_with("HTTP/"),
        "plain HTTP was answered: {answer:?}"
    );
    let metrics = client(&[&authority], None)
        .get(format!("https://127.0.0.1:{}/metrics", server.addr.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("wasmhook_tls_handshake_failures_total "))
        .expect("the handshake failure counter")
        .parse()
        .unwrap();
    assert!(
        failures >= 2.0,
        "the stranger and the plain client: {failures}"
    );
    server.stop().await;
}

/// What the server sends back to a plain HTTP request (until it closes, at most 5 s).
async fn plain_http(address: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_replaced_under_load_serves_new_connections_and_no_call_fails() {
    let old_authority = Authority::new("old CA");
    let new_authority = Authority::new("new CA");
    let first = old_authority.issue("first");
    let (dir, toml) = tls_config(&first);
    let server = Arc::new(TestServer::with_config(&toml).await);
    let trusting_both = client(&[&old_authority, &new_authority], None);
    assert_eq!(
        status(&trusting_both, &server).await["tls"]["sha256"],
        first.sha256
    );

    // Calls on fresh connections, without a pause, while the files are replaced.
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop, client) = (server.clone(), stop.clone(), trusting_both.clone());
            tokio::spawn(async move {
                let (mut answered, mut failed) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    match call(&client, &server).await {
                        Ok((200 | 204, _)) => answered += 1,
                        other => failed.push(format!("{other:?}")),
                    }
                }
                (answered, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = new_authority.issue("second");
    install(&dir, &second);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&trusting_both, &server).await["tls"]["sha256"] != second.sha256 {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not loaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut answered, mut failed) = (0, Vec::new());
    for task in load {
        let (a, f) = task.await.unwrap();
        answered += a;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} calls failed: {failed:?}",
        failed.len()
    );
    assert!(answered > 20, "too few calls to show anything: {answered}");
    // New connections get the new certificate: a client trusting only its authority connects,
    // and one trusting only the old authority no longer does.
    let (status_code, _) = call(&client(&[&new_authority], None), &server)
        .await
        .unwrap();
    assert!(status_code == 200 || status_code == 204);
    assert!(
        call(&client(&[&old_authority], None), &server)
            .await
            .is_err()
    );
    eprintln!("certificate replaced under load: {answered} calls answered, none failed");
    Arc::into_inner(server).unwrap().stop().await;
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_working_certificate_and_says_why_without_the_key() {
    let authority = Authority::new("wasmhook test CA");
    let first = authority.issue("first");
    let (dir, toml) = tls_config(&first);
    let server = TestServer::with_config(&toml).await;
    let trusting = client(&[&authority], None);
    // A key that belongs to another certificate: the pair is refused.
    let other = authority.issue("other");
    let stray_key = other.key.clone();
    std::fs::write(dir.join("key.pem"), &stray_key).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let readyz = loop {
        let readyz = status(&trusting, &server).await;
        if !readyz["tls"]["last_error"].is_null() {
            break readyz;
        }
        assert!(Instant::now() < deadline, "the broken pair was not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(readyz["status"], "degraded", "{readyz}");
    assert_eq!(readyz["tls"]["sha256"], first.sha256, "the old pair serves");
    let error = readyz["tls"]["last_error"].as_str().unwrap();
    assert!(error.contains("does not belong"), "{error}");
    let text = readyz.to_string();
    let key_body: String = stray_key.lines().nth(1).unwrap().to_owned();
    assert!(!text.contains(&key_body), "the key leaked: {text}");
    let (code, _) = call(&trusting, &server).await.unwrap();
    assert!(code == 200 || code == 204);
    // A key file that is not PEM at all: refused without quoting it.
    std::fs::write(
        dir.join("key.pem"),
        "-----BEGIN PRIVATE KEY-----\nnot-a-key-secretvalue\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let readyz = status(&trusting, &server).await;
        let error = readyz["tls"]["last_error"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if error.contains("key file") {
            assert!(!readyz.to_string().contains("secretvalue"), "{readyz}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unreadable key was not noticed: {readyz}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Putting the right key back clears the problem.
    std::fs::write(dir.join("key.pem"), &first.key).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&trusting, &server).await["status"] != "ready" {
        assert!(
            Instant::now() < deadline,
            "the repaired pair did not clear the problem"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}
