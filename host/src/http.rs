//! The HTTP front: hyper 1.x on tokio, one task per connection, graceful shutdown.
//!
//! Endpoints: `POST /hooks/{tenant}` (every inline hook of that tenant, and its event hook
//! deliveries, acknowledged once queued: see `crate::events`), `GET /hooks/{tenant}` (an event
//! hook's verification), `GET /healthz` (the
//! process is up), `GET /readyz` (rules are loaded), `GET /metrics` (Prometheus text). With an
//! admin listener ([`Endpoints`]), `/metrics` and the detailed `/readyz` (tenant ids, rule paths,
//! load errors) move there, and the hook listener's `/readyz` says only ready or degraded.
//! With `[tls]`, the hook listener speaks only HTTPS ([`tls`]); the admin listener stays plain.
//! The order of checks on a hook call is fixed and cheap-first: path, method, tenant, credentials,
//! then the body (so an unauthenticated caller never gets a body read), then the rule.

pub mod connections;
mod reply;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::{Instrument, Span, field};

use crate::BoxFuture;
use crate::app::App;
use crate::events::{self, NotAcknowledged};
use crate::hook;
use crate::hooks::event;
use crate::okta::HookCall;
use crate::telemetry::RepeatedLine;
use crate::tenant::Tenant;
use connections::Connections;
use reply::{Body, Rejection, json_response};

/// Largest request body accepted. Okta documents no request limit; hook payloads are a few KB.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Time allowed for a client to send its request headers, and then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown keeps idle connections open, answering each one's next call with
/// `connection: close`, before it closes them (see [`connections`]).
const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// How long shutdown waits for requests in flight before closing their connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Which endpoints a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// Everything on one listener (no `admin_listen`).
    All,
    /// The hook listener when an admin listener exists: hooks, `/healthz` and a `/readyz` that
    /// says ready, degraded or not ready, with no tenant id, rule path or error text.
    Public,
    /// The admin listener: `/healthz`, the detailed `/readyz` and `/metrics`; no hooks.
    Admin,
}

/// Serves every endpoint of `app` on `listener` until `shutdown` completes (see [`serve_as`]).
pub fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: BoxFuture<'static, ()>,
) -> BoxFuture<'static, ()> {
    Box::pin(serve_as(listener, app, Endpoints::All, shutdown))
}

/// Serves `endpoints` of `app` on `listener` until `shutdown` completes, then stops accepting
/// and lets requests in flight finish (for up to ten seconds).
pub async fn serve_as(
    listener: TcpListener,
    app: Arc<App>,
    endpoints: Endpoints,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Connections::new(app.connection_limits);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT);
    let builder = Arc::new(builder);
    // HTTPS on the hook listener when `[tls]` is set; the admin listener stays plain HTTP.
    let tls = match endpoints {
        Endpoints::Admin => None,
        Endpoints::All | Endpoints::Public => app
            .tls
            .as_ref()
            .map(|certificates| tokio_rustls::TlsAcceptor::from(certificates.server_config())),
    };
    let mut accept_errors = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    accept_errors.wait(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        accept_errors.reset();
        let admitted = match connections.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refused) => {
                tracing::debug!(client = %peer.ip(), ?refused, "connection refused: every connection is busy");
                app.metrics.connection_refused();
                continue;
            }
        };
        let made_room = admitted.evicted;
        let (app, builder, tls) = (app.clone(), builder.clone(), tls.clone());
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return serve_connection(&app, endpoints, &builder, stream, admitted).await;
            };
            // The handshake runs on the connection's own task, within the time a client gets
            // to send its headers, so a slow or silent client holds up nothing else.
            match tokio::time::timeout(READ_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => {
                    serve_connection(&app, endpoints, &builder, stream, admitted).await
                }
                Ok(Err(error)) => {
                    tracing::debug!(client = %peer.ip(), %error, "TLS handshake failed");
                    app.metrics.tls_handshake_failed();
                }
                Err(_) => {
                    tracing::debug!(client = %peer.ip(), "TLS handshake timed out");
                    app.metrics.tls_handshake_failed();
                }
            }
        });
        if made_room {
            // Let the connection closed to make room release its descriptor before the next
            // accept, or a flood of new connections would run the process out of them.
            tokio::task::yield_now().await;
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for requests in flight");
    tokio::select! {
        () = connections.drain(DRAIN_GRACE) => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing remaining connections"),
    }
}

/// Serves one connection's requests until the client closes it, or until it is asked to close
/// (to make room, or at shutdown), which lets its request in flight finish first.
async fn serve_connection<S>(
    app: &Arc<App>,
    endpoints: Endpoints,
    builder: &http1::Builder,
    stream: S,
    admitted: connections::Admitted,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let busy = admitted.busy.clone();
    let connections = admitted.connections.clone();
    let app = app.clone();
    let service = service_fn(move |request| {
        let app = app.clone();
        let busy = busy.clone();
        let connections = connections.clone();
        async move {
            busy.store(true, Ordering::Release);
            let mut response = handle(&app, endpoints, request).await;
            busy.store(false, Ordering::Release);
            if connections.draining() {
                // hyper closes the connection once this answer is sent.
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, Infallible>(response)
        }
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = admitted.close.notified() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended with an error");
    }
    drop(admitted);
}

/// Waits after a failed `accept` (out of file descriptors, typically), twice as long each time
/// up to a second, and logs the first failure and then at most one line a second.
#[derive(Default)]
struct AcceptBackoff {
    delay: Duration,
    failures: u64,
    line: RepeatedLine,
}

impl AcceptBackoff {
    async fn wait(&mut self, error: &std::io::Error) {
        self.failures += 1;
        if self.line.occurred().is_some() {
            tracing::warn!(%error, failures = self.failures, "accept failed; backing off");
        }
        self.delay = (self.delay * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        tokio::time::sleep(self.delay).await;
    }

    /// After a successful accept: the next failure waits briefly again, but is logged only if
    /// the last line is a second old (failures between successes would otherwise log each time).
    fn reset(&mut self) {
        self.delay = Duration::ZERO;
        self.failures = 0;
    }
}

/// Handles one request. Never fails: every outcome is a response.
pub async fn handle(app: &App, endpoints: Endpoints, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let response = match path.strip_prefix("/hooks/") {
        Some(_) if endpoints == Endpoints::Admin => Err(Rejection::NotFound),
        Some(tenant) => hook_call(app, tenant, request).await,
        None => endpoint(app, endpoints, &path, request.method()),
    }
    .unwrap_or_else(Rejection::into_response);
    app.metrics.response(response.status().as_u16());
    response
}

fn endpoint(
    app: &App,
    endpoints: Endpoints,
    path: &str,
    method: &Method,
) -> Result<Response<Body>, Rejection> {
    let served = match path {
        "/healthz" | "/readyz" => true,
        "/metrics" => endpoints != Endpoints::Public,
        _ => false,
    };
    if !served {
        return Err(Rejection::NotFound);
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(Rejection::MethodNotAllowed("GET, HEAD"));
    }
    Ok(match path {
        "/healthz" => json_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned()),
        "/readyz" if endpoints == Endpoints::Public => {
            let status = &app.status()["status"];
            json_response(
                StatusCode::OK,
                serde_json::json!({ "status": status }).to_string(),
            )
        }
        "/readyz" => json_response(StatusCode::OK, app.status().to_string()),
        _ => reply::metrics(app.metrics.encode(&app.tenants(), &events::per_tenant(app))),
    })
}

async fn hook_call(
    app: &App,
    tenant_id: &str,
    request: Request<Incoming>,
) -> Result<Response<Body>, Rejection> {
    if tenant_id.is_empty() || tenant_id.contains('/') {
        return Err(Rejection::NotFound);
    }
    // The one GET Okta sends: an event hook's verification, with its challenge.
    let verifying =
        request.method() == Method::GET && request.headers().contains_key(VERIFICATION_CHALLENGE);
    if request.method() != Method::POST && !verifying {
        return Err(Rejection::MethodNotAllowed("POST"));
    }
    let tenants = app.tenants();
    let tenant = tenants.get(tenant_id).ok_or(Rejection::NotFound)?;
    let span = tracing::info_span!(
        "hook",
        tenant = %tenant.id,
        event_id = field::Empty,
        hook = field::Empty,
        rule = field::Empty,
        decision = field::Empty,
        fuel = field::Empty,
    );
    async move {
        let started = Instant::now();
        if let Err(reason) = tenant.auth.verify(request.headers()).await {
            tracing::info!(%reason, "authentication failed");
            app.metrics.auth_failure(&tenant.id, reason.kind());
            return Err(Rejection::Unauthorized);
        }
        if verifying {
            return verification(request.headers());
        }
        let body = read_body(request).await?;
        let call = HookCall::parse(&body).map_err(|e| {
            tracing::info!(error = %e, "unparsable hook request");
            Rejection::BadRequest(e)
        })?;
        // Both futures are boxed: held inline, their state (9 KiB for an answer, more for a
        // delivery's queue writes) made this one 35 KiB, copied whole each time a layer above
        // (the span, the service, hyper) took it over.
        if call.envelope.event_type == event::EVENT_TYPE {
            return Box::pin(delivery(app, tenant, &call, started)).await;
        }
        let decisions = app.decisions.as_ref();
        let answer = Box::pin(hook::answer(
            &app.runtime,
            &app.metrics,
            &app.shadows,
            decisions,
            tenant,
            call,
        ))
        .await;
        let micros = started.elapsed().as_micros() as u64;
        tracing::info!(micros, "hook answered");
        Ok(reply::answer(answer))
    }
    .instrument(span)
    .await
}

/// Acknowledges an event hook delivery once its events are queued (`200`), or refuses it: `400`
/// for a malformed one, `503` when it could not be queued, so that Okta retries.
async fn delivery(
    app: &App,
    tenant: &Tenant,
    call: &HookCall,
    started: Instant,
) -> Result<Response<Body>, Rejection> {
    Span::current().record("event_id", call.envelope.event_id.as_str());
    Span::current().record("hook", event::EVENT_TYPE);
    match events::acknowledge(app, tenant, call).await {
        Ok(enqueued) => {
            let micros = started.elapsed().as_micros() as u64;
            tracing::info!(
                micros,
                queued = enqueued.queued,
                duplicates = enqueued.duplicates,
                "event delivery acknowledged"
            );
            Ok(reply::acknowledged())
        }
        Err(NotAcknowledged::Invalid(error)) => {
            tracing::warn!(%error, "event delivery refused");
            Err(Rejection::BadDelivery(error))
        }
        Err(error) => {
            tracing::error!(%error, "event delivery not queued; answering 503 so that Okta retries");
            Err(Rejection::Unavailable)
        }
    }
}

/// The header of an event hook verification (`GET`), whose value Okta expects echoed.
const VERIFICATION_CHALLENGE: &str = "x-okta-verification-challenge";
/// Longest challenge echoed: Okta's are short tokens; a longer one is refused, not echoed.
const MAX_CHALLENGE_BYTES: usize = 1024;

/// Answers an authenticated event hook verification: `{"verification": <challenge>}`, for a
/// challenge of 1 to [`MAX_CHALLENGE_BYTES`] visible ASCII characters.
fn verification(headers: &http::HeaderMap) -> Result<Response<Body>, Rejection> {
    let challenge = headers
        .get(VERIFICATION_CHALLENGE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty() && value.len() <= MAX_CHALLENGE_BYTES)
        .ok_or(Rejection::BadChallenge)?;
    tracing::info!("event hook verification answered");
    Ok(reply::verification(challenge))
}

async fn read_body(request: Request<Incoming>) -> Result<bytes::Bytes, Rejection> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(Rejection::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let limited = Limited::new(request.into_body(), MAX_BODY_BYTES);
    match tokio::time::timeout(READ_TIMEOUT, limited.collect()).await {
        Err(_) => Err(Rejection::RequestTimeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<LengthLimitError>() => {
            Err(Rejection::PayloadTooLarge(MAX_BODY_BYTES))
        }
        Ok(Err(_)) => Err(Rejection::BadBody),
    }
}
