//! Outbound HTTP from a rule, on the routes that grant it (`allowed_outbound_hosts`): a small
//! blocking client over `wasi:http/outgoing-handler`.
//!
//! The server decides what a request may reach, not the rule: a route without a grant refuses
//! every request, a granted route reaches only its listed origins (a redirect is not followed
//! here; following one is a new request, checked again), each request must finish by the call's
//! deadline, and requests per call and response bytes are capped. Upstream API keys are added
//! by the server (`outbound_credentials`): the rule never holds them.
//!
//! ```no_run
//! use wasmhook_sdk::http;
//!
//! # fn verify() -> Result<bool, http::Error> {
//! let response = http::Request::post("https://legacy.example.com/v1/verify")
//!     .json(&serde_json::json!({"username": "isaac.brock@example.com", "password": "…"}))
//!     .send()?;
//! Ok(response.status == 200)
//! # }
//! ```

use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Most bytes `wasi:io` takes in one blocking write.
const WRITE_CHUNK: usize = 4096;

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

/// A response, its body read whole (the server caps it: `limits.max_outbound_response_kb`).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// The headers, names in lower case, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(error: Error) -> String {
        error.0
    }
}

impl Request {
    /// A request with `method` to `url` (`https://host[:port]/path?query`).
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::Get, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Request {
        Request::new(Method::Post, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Request {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json(self, value: &serde_json::Value) -> Request {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    /// Sets an `application/x-www-form-urlencoded` body from `pairs` (as most SMS APIs take).
    pub fn form(self, pairs: &[(&str, &str)]) -> Request {
        let body = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", form_escape(name), form_escape(value)))
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// Gives up waiting for the connection and for the first byte of the response after
    /// `timeout` (the call's deadline applies in any case).
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, Error> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let headers = Fields::from_list(&self.headers)
            .map_err(|e| Error(format!("invalid request header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let invalid = |what: &str| Error(format!("invalid {what} in `{}`", self.url));
        request
            .set_method(&self.method)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| invalid("path"))?;
        let options = self.timeout.map(|timeout| {
            let options = RequestOptions::new();
            let nanos = timeout.as_nanos().min(u64::MAX as u128) as u64;
            let _ = options.set_connect_timeout(Some(nanos));
            let _ = options.set_first_byte_timeout(Some(nanos));
            options
        });
        let body = request
            .body()
            .map_err(|()| Error("the request body was taken".into()))?;
        let pending =
            outgoing_handler::handle(request, options).map_err(|e| failed(&self.url, e))?;
        // A request the server refuses fails at once, and so does writing its body: the
        // response's error, which says why, comes first.
        let written = write_body(body, &self.body);
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(error))) => return Err(failed(&self.url, error)),
            Some(Err(())) | None => return Err(Error("the response was already taken".into())),
        };
        written?;
        let status = response.status();
        let headers = response.headers().entries();
        let body = response
            .consume()
            .map_err(|()| Error("the response body was taken".into()))?;
        let body = read_body(body).map_err(|e| failed(&self.url, e))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl Response {
    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, deserialised into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error(format!("the response is not the JSON expected: {e}")))
    }
}

/// `https://host:port/path?query` as its scheme, authority and path with query.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error(format!("`{url}` is not an absolute http(s) URL")))?;
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(Error(format!("`{url}`: only http and https are supported"))),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') {
        return Err(Error(format!(
            "`{url}` has no host, or carries credentials"
        )));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), Error> {
    let written = body
        .write()
        .map_err(|()| Error("the request body stream was taken".into()))
        .and_then(|stream| {
            for chunk in bytes.chunks(WRITE_CHUNK) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| Error(format!("sending the request body failed: {e:?}")))?;
            }
            Ok(())
        });
    OutgoingBody::finish(body, None)
        .map_err(|e| Error(format!("sending the request body failed: {e:?}")))?;
    written
}

fn read_body(body: IncomingBody) -> Result<Vec<u8>, ErrorCode> {
    let mut bytes = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| ErrorCode::InternalError(Some("no body stream".into())))?;
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                // The server cut the body off at the route's cap, or the upstream did; the
                // error code is not always carried through the stream.
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(wasip2::http::types::http_error_code(&error)
                        .unwrap_or(ErrorCode::HttpResponseBodySize(None)));
                }
            }
        }
    }
    drop(IncomingBody::finish(body));
    Ok(bytes)
}

/// A request's failure as a message that says what to change where the server decides.
fn failed(url: &str, error: ErrorCode) -> Error {
    let origin = split_url(url).map_or(url, |(_, authority, _)| authority);
    let why = match &error {
        ErrorCode::HttpRequestDenied => {
            "refused by the server: the route does not grant this origin (allowed_outbound_hosts)"
                .to_owned()
        }
        ErrorCode::ConnectionLimitReached => {
            "refused by the server: the call has sent its most requests (limits.max_outbound_requests)"
                .to_owned()
        }
        ErrorCode::DestinationIpProhibited => {
            "refused by the server: the host resolves to a non-public address".to_owned()
        }
        ErrorCode::HttpResponseBodySize(_) => "the response body could not be read in full: it is \
             larger than the route allows (limits.max_outbound_response_kb), or the upstream cut it off"
            .to_owned(),
        ErrorCode::ConnectionTimeout => "timed out (the call's deadline applies)".to_owned(),
        other => format!("{other:?}"),
    };
    Error(format!("HTTP request to {origin} failed: {why}"))
}

/// `text` percent-encoded for a form body (RFC 1866: unreserved characters kept, space as `+`).
fn form_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                escaped.push(byte as char)
            }
            b' ' => escaped.push('+'),
            other => escaped.push_str(&format!("%{other:02X}")),
        }
    }
    escaped
}
