//! The one place where outcomes become HTTP responses.
//!
//! Statuses follow Okta's protocol: `200` with JSON or `204` for an answer (business outcomes,
//! including denials and rule failures, travel inside the answer), and 4xx only when the call
//! itself is wrong. Every error body is JSON with an `error` object, and none reveals internals.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::json;

use crate::hooks::event::DeliveryError;
use crate::okta::{Answer, ParseError};

pub type Body = Full<Bytes>;

/// Why a call was refused before any rule ran.
#[derive(Debug)]
pub enum Rejection {
    /// Unknown path or tenant.
    NotFound,
    /// The path exists but not for this method; carries the `Allow` header value.
    MethodNotAllowed(&'static str),
    /// Missing or wrong credentials. Deliberately says nothing about which.
    Unauthorized,
    /// The body is larger than the limit (in bytes).
    PayloadTooLarge(usize),
    /// The body did not arrive in time.
    RequestTimeout,
    /// The body is not an Okta hook call.
    BadRequest(ParseError),
    /// The body could not be read.
    BadBody,
    /// An event hook verification challenge that is empty, too long or not visible ASCII.
    BadChallenge,
    /// An event hook delivery whose events cannot be identified.
    BadDelivery(DeliveryError),
    /// The delivery could not be queued (full, or the disk failed): Okta retries a 5xx once.
    Unavailable,
}

impl Rejection {
    pub fn into_response(self) -> Response<Body> {
        let (status, summary) = match &self {
            Rejection::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_owned()),
            Rejection::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed.".to_owned(),
            ),
            Rejection::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized.".to_owned()),
            Rejection::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body exceeds {limit} bytes."),
            ),
            Rejection::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time.".to_owned(),
            ),
            Rejection::BadRequest(error) => (
                StatusCode::BAD_REQUEST,
                format!("Invalid hook request: {error}."),
            ),
            Rejection::BadBody => (
                StatusCode::BAD_REQUEST,
                "The request body could not be read.".to_owned(),
            ),
            Rejection::BadChallenge => (
                StatusCode::BAD_REQUEST,
                "Invalid verification challenge.".to_owned(),
            ),
            Rejection::BadDelivery(error) => (
                StatusCode::BAD_REQUEST,
                format!("Invalid event hook delivery: {error}."),
            ),
            Rejection::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The events could not be queued; try again later.".to_owned(),
            ),
        };
        let mut response = json_response(
            status,
            json!({"error": {"errorSummary": summary}}).to_string(),
        );
        if let Rejection::MethodNotAllowed(allow) = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// The answer to an event hook verification: the challenge echoed in `{"verification": …}`, built
/// by the JSON serialiser (so a quote or a backslash in it cannot change the document).
pub fn verification(challenge: &str) -> Response<Body> {
    json_response(
        StatusCode::OK,
        json!({ "verification": challenge }).to_string(),
    )
}

/// An event hook delivery acknowledged: `200` with an empty body, as Okta expects.
pub fn acknowledged() -> Response<Body> {
    Response::new(Body::default())
}

/// Okta's answer: `204` with an empty body for "no change", else `200` with the JSON.
pub fn answer(answer: Answer) -> Response<Body> {
    match answer {
        Answer::NoChange => {
            let mut response = Response::new(Body::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        Answer::Commands(body) | Answer::Deny(body) => json_response(StatusCode::OK, body),
    }
}

/// The Prometheus text exposition.
pub fn metrics(text: String) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(text)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// A response with a JSON body and `Content-Type: application/json`.
pub fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
