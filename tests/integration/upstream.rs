//! A stand-in for the external systems rules call (a legacy password store, an SMS provider):
//! a real HTTP server on `127.0.0.1`, run by the test, that answers each path as told and keeps
//! every request it got.
//!
//! Paths: `/slow` answers after 2 s, `/big` sends 2 MiB, `/redirect?to=<url>` answers 302 to
//! `<url>`; any other path answers with what [`Upstream::start`] was given.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A request the upstream got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Answer = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

pub struct Upstream {
    pub address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Its own runtime, so that blocking and async tests alike can use it.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Upstream {
    /// An upstream answering `200 hello from upstream` to every ordinary path.
    pub fn start() -> Upstream {
        Upstream::answering(|_| (200, "hello from upstream".into()))
    }

    /// An upstream answering ordinary paths with `answer(request)`: a status and a body.
    pub fn answering(answer: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Upstream {
        let answer: Answer = Arc::new(answer);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Bound outside the runtime: `block_on` would panic inside an async test.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, answer) = (kept.clone(), answer.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (seen, answer) = (seen.clone(), answer.clone());
                        async move { Ok::<_, hyper::Error>(respond(request, &seen, &answer).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream {
            address,
            seen,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async test's thread must not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn respond(
    request: Request<hyper::body::Incoming>,
    seen: &Mutex<Vec<Seen>>,
    answer: &Answer,
) -> Response<Full<Bytes>> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".into(), |p| p.to_string());
    let headers = request
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let request = Seen {
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    seen.lock().unwrap().push(request.clone());
    let reply = |status: u16, body: Bytes| {
        Response::builder()
            .status(status)
            .body(Full::new(body))
            .unwrap()
    };
    if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(2)).await;
        return reply(200, Bytes::from_static(b"late"));
    }
    if path == "/big" {
        return reply(200, Bytes::from(vec![b'x'; 2 << 20]));
    }
    if let Some(to) = path.strip_prefix("/redirect?to=") {
        let mut redirect = reply(302, Bytes::new());
        redirect
            .headers_mut()
            .insert("location", to.parse().unwrap());
        return redirect;
    }
    let (status, body) = answer(&request);
    reply(status, Bytes::from(body))
}
