//! OAuth 2.0 bearer authentication against a JWKS served on loopback by the test (standing in for
//! the authorization server), with keys generated here; and isolation between tenants'
//! credentials.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use crate::common::{AUTH, SSR_OIE, ServeProcess, TestServer, rule};

const ISSUER: &str = "https://example.okta.com/oauth2/default";
const AUDIENCE: &str = "api://default";

struct Keys {
    rsa: rsa::RsaPrivateKey,
    rsa_pem: String,
    ec: p256::SecretKey,
    ec_pem: String,
}

impl Keys {
    fn generate() -> Keys {
        let rsa = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let rsa_pem = rsa.to_pkcs1_pem(Default::default()).unwrap().to_string();
        let ec = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let ec_pem = ec.to_pkcs8_pem(Default::default()).unwrap().to_string();
        Keys {
            rsa,
            rsa_pem,
            ec,
            ec_pem,
        }
    }

    fn rsa_jwk(&self, kid: &str) -> Value {
        let public = self.rsa.to_public_key();
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
               "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
               "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())})
    }

    fn ec_jwk(&self, kid: &str) -> Value {
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &self.ec.public_key(),
            false,
        );
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
               "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
               "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())})
    }

    fn rs256(&self, kid: &str, claims: &Value) -> String {
        sign(
            Algorithm::RS256,
            kid,
            &EncodingKey::from_rsa_pem(self.rsa_pem.as_bytes()).unwrap(),
            claims,
        )
    }

    fn es256(&self, kid: &str, claims: &Value) -> String {
        sign(
            Algorithm::ES256,
            kid,
            &EncodingKey::from_ec_pem(self.ec_pem.as_bytes()).unwrap(),
            claims,
        )
    }
}

fn sign(algorithm: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let header = Header {
        kid: Some(kid.into()),
        ..Header::new(algorithm)
    };
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims as Okta's custom authorization server issues them for an inline hook.
fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "iat": now(), "nbf": now() - 5, "exp": now() + 300,
           "cid": "0oahookclient", "scp": ["okta.hooks"], "sub": "0oahookclient", "jti": "AT.1"})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// A JWKS endpoint on loopback that counts its fetches and whose keys the test can change, or
/// that answers 503 while `down` (an authorization server in trouble).
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

async fn jwks_server(keys: Value) -> JwksServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/oauth2/default/v1/keys",
        listener.local_addr().unwrap()
    );
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let (served, counted, failing) = (keys.clone(), fetches.clone(), down.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (served, counted, failing) = (served.clone(), counted.clone(), failing.clone());
            tokio::spawn(http1::Builder::new().serve_connection(
                TokioIo::new(stream),
                service_fn(move |_request| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let mut response = hyper::Response::new(Full::new(Bytes::from(
                        served.lock().unwrap().to_string(),
                    )));
                    if failing.load(Ordering::SeqCst) {
                        *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    async move { Ok::<_, std::convert::Infallible>(response) }
                }),
            ));
        }
    });
    JwksServer {
        url,
        keys,
        fetches,
        down,
    }
}

fn config(jwks: &str, extra_auth: &str) -> String {
    let rule = rule("email_domain").display().to_string();
    format!(
        r#"
        [tenants.acme.auth]
        type = "oauth2-bearer"
        issuer = "{ISSUER}"
        audience = "{AUDIENCE}"
        {jwks}
        allowed_client_ids = ["0oahookclient"]
        required_scope = "okta.hooks"
        {extra_auth}

        [[tenants.acme.routes]]
        event_type = "com.okta.user.pre-registration"
        rule = "{rule}"
        settings = {{ allowed_domains = ["example.com"] }}

        [tenants.demo.auth]
        type = "header-secret"
        header = "authorization"
        secrets = ["{demo}"]

        [[tenants.demo.routes]]
        event_type = "com.okta.user.pre-registration"
        rule = "{rule}"
        settings = {{ allowed_domains = ["example.com"] }}

        [tenants.other.auth]
        type = "header-secret"
        header = "x-hook-secret"
        secrets = ["another secret"]
        "#,
        demo = AUTH.1,
    )
}

/// Calls tenant `acme` with `Authorization: Bearer <token>`; returns the status.
async fn bearer(server: &TestServer, token: &str) -> u16 {
    call(server, "acme", &format!("Bearer {token}")).await
}

async fn call(server: &TestServer, tenant: &str, authorization: &str) -> u16 {
    let headers = [("authorization", authorization)];
    server
        .request("POST", &format!("/hooks/{tenant}"), &headers, SSR_OIE)
        .await
        .status
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_are_accepted() {
    let keys = Keys::generate();
    let jwks = jwks_server(json!({"keys": [keys.rsa_jwk("rsa-1"), keys.ec_jwk("ec-1")]})).await;
    let server =
        TestServer::with_config(&config(&format!("jwks_url = \"{}\"", jwks.url), "")).await;
    assert_eq!(bearer(&server, &keys.rs256("rsa-1", &claims())).await, 204);
    assert_eq!(
        call(
            &server,
            "acme",
            &format!("bearer {}", keys.es256("ec-1", &claims()))
        )
        .await,
        204
    );
    let scope_string = with(claims(), "scp", json!("openid okta.hooks"));
    assert_eq!(
        bearer(&server, &keys.rs256("rsa-1", &scope_string)).await,
        204
    );
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "the JWKS is fetched once and cached"
    );
}

/// Every way a token can be wrong gets 401 from the real binary, whose debug log names each
/// reason but never a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tokens_get_401_and_nothing_sensitive_is_logged() {
    let keys = Keys::generate();
    let impostor = Keys::generate();
    let jwks = jwks_server(json!({"keys": [keys.rsa_jwk("rsa-1"), keys.ec_jwk("ec-1")]})).await;
    let config = crate::common::write_config(&config(&format!("jwks_url = \"{}\"", jwks.url), ""));
    let server = ServeProcess::start(&config, "debug");
    let call = |authorization: String| async move {
        let headers = [("authorization", authorization.as_str())];
        crate::common::send(
            server.address,
            "POST",
            "/hooks/acme",
            &headers,
            SSR_OIE.into(),
        )
        .await
        .status
    };

    let public_pem =
        rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_pem(&keys.rsa.to_public_key(), Default::default())
            .unwrap();
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "kid": "rsa-1"})),
        encode(&claims())
    );
    let cases = [
        ("wrong signature", impostor.rs256("rsa-1", &claims())),
        (
            "ES256 header on an RSA key",
            impostor.es256("rsa-1", &claims()),
        ),
        (
            "wrong issuer",
            keys.rs256(
                "rsa-1",
                &with(
                    claims(),
                    "iss",
                    json!("https://evil.example/oauth2/default"),
                ),
            ),
        ),
        (
            "wrong audience",
            keys.rs256("rsa-1", &with(claims(), "aud", json!("api://other"))),
        ),
        (
            "expired",
            keys.rs256("rsa-1", &with(claims(), "exp", json!(now() - 60))),
        ),
        (
            "not yet valid",
            keys.rs256("rsa-1", &with(claims(), "nbf", json!(now() + 60))),
        ),
        (
            "missing scope",
            keys.rs256("rsa-1", &with(claims(), "scp", json!(["openid"]))),
        ),
        (
            "client not allowed",
            keys.rs256("rsa-1", &with(claims(), "cid", json!("0oaother"))),
        ),
        ("unknown kid", keys.rs256("rsa-9", &claims())),
        (
            "issuer as an array",
            keys.rs256("rsa-1", &with(claims(), "iss", json!([ISSUER]))),
        ),
        ("alg none", unsigned),
        (
            "HS256 signed with the public key",
            sign(
                Algorithm::HS256,
                "rsa-1",
                &EncodingKey::from_secret(public_pem.as_bytes()),
                &claims(),
            ),
        ),
    ];
    for (case, token) in &cases {
        assert_eq!(call(format!("Bearer {token}")).await, 401, "{case}");
    }
    let valid = keys.rs256("rsa-1", &claims());
    for header in [
        valid.clone(),
        format!("Basic {valid}"),
        format!("Bearer {valid} extra"),
        "Bearer".into(),
        format!("x Bearer {valid}"),
    ] {
        assert_eq!(call(header.clone()).await, 401, "{header}");
    }
    assert_eq!(call(format!("Bearer {valid}")).await, 204);

    let logs = server.stop();
    assert!(
        logs.matches("authentication failed").count() >= cases.len() + 5,
        "{logs}"
    );
    assert!(
        logs.contains("ExpiredSignature") && logs.contains("InvalidIssuer"),
        "reasons are logged: {logs}"
    );
    let valid_case = [("valid", valid)];
    for (case, token) in cases.iter().chain(&valid_case) {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            signature.is_empty() || !logs.contains(signature),
            "{case}: a token was logged"
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_so_rotated_keys_are_accepted() {
    let keys = Keys::generate();
    let rotated = Keys::generate();
    let jwks = jwks_server(json!({"keys": [keys.rsa_jwk("rsa-1")]})).await;
    let server = TestServer::with_config(&config(
        &format!("jwks_url = \"{}\"", jwks.url),
        "jwks_min_refresh_seconds = 0",
    ))
    .await;
    assert_eq!(bearer(&server, &keys.rs256("rsa-1", &claims())).await, 204);
    assert_eq!(
        bearer(&server, &rotated.rs256("rsa-2", &claims())).await,
        401
    );
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        2,
        "the unknown kid caused one refetch"
    );

    jwks.keys.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(rotated.rsa_jwk("rsa-2"));
    assert_eq!(
        bearer(&server, &rotated.rs256("rsa-2", &claims())).await,
        204
    );
    assert_eq!(bearer(&server, &keys.rs256("rsa-1", &claims())).await, 204);
}

#[tokio::test]
async fn refetches_for_unknown_kids_are_rate_limited() {
    let keys = Keys::generate();
    let jwks = jwks_server(json!({"keys": [keys.rsa_jwk("rsa-1")]})).await;
    let server = TestServer::with_config(&config(
        &format!("jwks_url = \"{}\"", jwks.url),
        "jwks_min_refresh_seconds = 60",
    ))
    .await;
    for kid in ["forged-1", "forged-2", "forged-3", "forged-4"] {
        assert_eq!(bearer(&server, &keys.rs256(kid, &claims())).await, 401);
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, then none within the interval"
    );
    assert_eq!(bearer(&server, &keys.rs256("rsa-1", &claims())).await, 204);
}

#[tokio::test]
async fn a_jwks_can_be_read_from_a_file() {
    let keys = Keys::generate();
    let file = crate::common::write_config(&json!({"keys": [keys.ec_jwk("ec-1")]}).to_string());
    let server =
        TestServer::with_config(&config(&format!("jwks_file = \"{}\"", file.display()), "")).await;
    assert_eq!(bearer(&server, &keys.es256("ec-1", &claims())).await, 204);
    assert_eq!(bearer(&server, &keys.rs256("ec-1", &claims())).await, 401);
}

#[tokio::test]
async fn one_tenants_credentials_are_refused_by_every_other_tenant() {
    let keys = Keys::generate();
    let jwks = jwks_server(json!({"keys": [keys.rsa_jwk("rsa-1")]})).await;
    let server =
        TestServer::with_config(&config(&format!("jwks_url = \"{}\"", jwks.url), "")).await;
    let acme_token = format!("Bearer {}", keys.rs256("rsa-1", &claims()));
    assert_eq!(call(&server, "demo", AUTH.1).await, 204);
    assert_eq!(call(&server, "acme", "Bearer x.y.z").await, 401);
    assert_eq!(
        call(&server, "acme", AUTH.1).await,
        401,
        "demo's secret at acme"
    );
    assert_eq!(
        call(&server, "demo", &acme_token).await,
        401,
        "acme's token at demo"
    );
    assert_eq!(
        call(&server, "other", AUTH.1).await,
        401,
        "demo's secret at other"
    );
    let other = [("x-hook-secret", "another secret")];
    assert_eq!(
        server
            .request("POST", "/hooks/demo", &other, SSR_OIE)
            .await
            .status,
        401,
        "other's secret at demo"
    );
    let metrics = server.get("/metrics").await.body;
    for expected in [
        r#"{tenant="other",reason="missing"}"#,
        r#"{tenant="acme",reason="not_bearer"}"#,
        r#"{tenant="demo",reason="wrong_secret"}"#,
    ] {
        assert!(
            metrics.contains(&format!("wasmhook_auth_failures_total{expected}")),
            "{expected} in {metrics}"
        );
    }
}

/// A reload (any reload, even one that changes nothing for this tenant) keeps the keys it has
/// cached, so an authorization server that is down at that moment locks nobody out; a new
/// issuer starts from an empty cache.
#[tokio::test]
async fn cached_keys_survive_a_reload_while_the_authorization_server_is_down() {
    let keys = Keys::generate();
    let jwks = jwks_server(json!({"keys": [keys.rsa_jwk("rsa-1")]})).await;
    let toml = config(
        &format!("jwks_url = \"{}\"", jwks.url),
        "jwks_min_refresh_seconds = 0",
    );
    let file = crate::common::write_config(&toml);
    let server = TestServer::start(&file).await;
    let token = keys.rs256("rsa-1", &claims());
    assert_eq!(bearer(&server, &token).await, 204);
    jwks.down.store(true, Ordering::SeqCst);

    // Only another tenant's secret changes.
    let reloaded = reload_with(&server, &file, &toml, "secret 2").await;
    let fetches = jwks.fetches.load(Ordering::SeqCst);
    assert_eq!(
        bearer(&server, &token).await,
        204,
        "locked out after a reload"
    );
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        fetches,
        "no refetch needed"
    );

    // A different issuer must not inherit keys fetched for the old one: its token needs a
    // fetch, which fails while the server is down.
    let other_issuer = "https://example.okta.com/oauth2/other";
    reload_with(
        &server,
        &file,
        &reloaded.replace(ISSUER, other_issuer),
        "secret 3",
    )
    .await;
    let token = keys.rs256("rsa-1", &with(claims(), "iss", json!(other_issuer)));
    assert_eq!(bearer(&server, &token).await, 401);
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        fetches + 1,
        "one failed fetch"
    );
}

/// Writes `toml` with tenant `other`'s secret replaced by `secret` and waits until the server
/// accepts that secret, i.e. the reload has been applied. Returns what was written.
async fn reload_with(
    server: &TestServer,
    file: &std::path::Path,
    toml: &str,
    secret: &str,
) -> String {
    let old = toml
        .split("x-hook-secret\"\n        secrets = [\"")
        .nth(1)
        .unwrap();
    let old = &old[..old.find('"').unwrap()];
    let new = toml.replace(&format!("[\"{old}\"]"), &format!("[\"{secret}\"]"));
    std::fs::write(file, &new).unwrap();
    let started = std::time::Instant::now();
    let headers = [("x-hook-secret", secret)];
    while server
        .request("POST", "/hooks/other", &headers, SSR_OIE)
        .await
        .status
        == 401
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no reload"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    new
}
