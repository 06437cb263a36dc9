//! Outbound HTTP (`wasi:http/outgoing-handler`, and its one-call form `wasmhook:rule/http-client`
//! for languages without a `wasi:http` client): the one way a rule may reach another system, and
//! only the systems its route grants. Both go through [`CallOutbound`], so they are checked alike.
//!
//! Why a capability: password import asks a legacy store whether a password is right, telephony
//! hands a one-time code to an SMS provider. A sandbox without network makes those hooks useless;
//! a sandbox with open network lets any rule send what it sees (passwords, profiles) anywhere,
//! or reach the cloud's metadata endpoint. So the network is off unless a route lists
//! `allowed_outbound_hosts`, and the host, not the rule, enforces every part of the grant:
//!
//! - **origins**: each request's scheme, host and port must be one the route lists, exactly. The
//!   client follows no redirect: a rule that follows one sends a new request, checked again.
//! - **addresses**: a granted *name* is resolved by the host and must lead to public addresses
//!   only, so no DNS answer can turn `https://sms.example.net` into a path to `10.0.0.1`,
//!   `127.0.0.1` or `169.254.169.254`. A private address is reachable only when the route grants
//!   it as an IP literal; plain `http` only for a loopback literal (see [`Origin::parse`]).
//! - **time**: every request must finish by the call's deadline; the call's own timer stops the
//!   rule (and drops its requests) when the deadline passes, so a slow upstream makes the call
//!   fail by its deadline with the route's failure policy, never later.
//! - **volume**: requests per call and response body bytes are capped ([`Limits`]), the request
//!   body too ([`MAX_REQUEST_BODY_BYTES`]).
//! - **credentials**: upstream API keys come from the environment or a file named in the
//!   configuration and are added to the request by the host ([`Credential`]): the rule never
//!   sees them, so it can neither log nor leak them, and the configuration holds only their names.
//! - **log**: each request is logged with its origin, status and duration; never its path,
//!   query, headers or bodies, which may carry the personal data the rule was sent.
//!
//! The requests themselves go through one process-wide `reqwest` client (TLS with the WebPKI
//! roots, connection reuse, no proxy from the environment), whose resolver is
//! [`PublicAddressesOnly`].

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::untrusted::GuestText;

/// Largest request body a rule may send: a JSON document for an API, with room to spare.
pub const MAX_REQUEST_BODY_BYTES: usize = 1 << 20;

/// A scheme, host and port a route may reach, as written in `allowed_outbound_hosts`
/// (`https://sms.example.net`, `http://127.0.0.1:8081`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    https: bool,
    host: url::Host,
    port: u16,
}

impl Origin {
    /// Parses a grant: `https://` or `http://`, a host and an optional port, nothing else (no
    /// path, query, credentials or wildcard). Plain `http` is accepted only for a loopback IP
    /// literal (`127.0.0.1`, `[::1]`): anything else would cross a network in clear. A name is
    /// resolved at every request and must then lead to public addresses, so `localhost` is
    /// refused: grant `127.0.0.1` instead. Literals that are never a service (link-local, as the
    /// metadata endpoint `169.254.169.254`, unspecified, multicast) are refused.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(format!(
                    "`{text}`: the scheme must be https or http, not `{other}`"
                ));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "`{}`: credentials do not belong in a grant; name them in `outbound_credentials`",
                url.host_str().unwrap_or_default()
            ));
        }
        if url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || text.ends_with('/')
        {
            return Err(format!(
                "`{text}`: a grant is a scheme, a host and an optional port, without a path"
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| format!("`{text}` has no host"))?
            .to_owned();
        let ip = match &host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = ip
            && never_a_service(ip)
        {
            return Err(format!(
                "`{text}`: {ip} is a link-local, unspecified or multicast address; no rule may reach it"
            ));
        }
        if !https && !ip.is_some_and(|ip| ip.is_loopback()) {
            let hint = match &host {
                url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
                    " (`localhost` is a name, resolved at each request to public addresses only: \
                     write `http://127.0.0.1:<port>`)"
                }
                _ => "",
            };
            return Err(format!(
                "`{text}`: plain http is allowed only to a loopback address (127.0.0.1 or [::1]); \
                 use https{hint}"
            ));
        }
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }

    /// The origin `uri` would reach, if it names a scheme this module speaks and a host.
    fn of(uri: &http::Uri) -> Option<Origin> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = authority.host();
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => url::Host::Ipv6(v6.parse().ok()?),
            None => url::Host::parse(host).ok()?,
        };
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Origin { https, host, port })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let default_port = if self.https { 443 } else { 80 };
        write!(f, "{scheme}://{}", self.host)?;
        if self.port != default_port {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// A header the host adds to every request to one granted origin, with a value read from the
/// environment or a file when the configuration is loaded: an upstream's API key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub origin: Origin,
    pub header: HeaderName,
    pub value: HeaderValue,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("origin", &self.origin)
            .field("header", &self.header)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// What a route's rule may reach. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    pub origins: Vec<Origin>,
    pub credentials: Vec<Credential>,
}

impl Grant {
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Adds `origin` to what the rule may reach (once).
    pub fn allow(&mut self, origin: Origin) {
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
    }
}

/// The process-wide HTTP client every rule's requests go through.
#[derive(Clone)]
pub struct Client(reqwest::Client);

impl Client {
    pub fn new() -> Result<Client, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .referer(false)
            .dns_resolver(Arc::new(PublicAddressesOnly))
            .user_agent(concat!("wasmhook/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client(client))
    }
}

/// One evaluation's outbound requests: the route's grant, and what is left of its budget.
pub struct CallOutbound {
    grant: Arc<Grant>,
    client: Client,
    deadline: Instant,
    requests_left: u32,
    max_response_bytes: usize,
}

impl CallOutbound {
    pub fn new(
        grant: Arc<Grant>,
        client: Client,
        deadline: Instant,
        max_requests: u32,
        max_response_bytes: usize,
    ) -> Self {
        CallOutbound {
            grant,
            client,
            deadline,
            requests_left: max_requests,
            max_response_bytes,
        }
    }

    /// Whether a request to `uri` may go out now, and to which granted origin; the refusal says
    /// why (for the log) and what the guest is told.
    fn admit(&mut self, uri: &http::Uri) -> Result<Origin, (String, HttpError)> {
        let denied = HttpError::HttpRequestDenied;
        if self.grant.is_empty() {
            return Err(("the route grants no outbound host".into(), denied));
        }
        let origin = Origin::of(uri).ok_or((
            "not an http(s) URL with a host".into(),
            HttpError::HttpRequestUriInvalid,
        ))?;
        if !self.grant.origins.contains(&origin) {
            return Err(("the route does not grant this host".into(), denied));
        }
        if self.requests_left == 0 {
            return Err((
                "the call has used up its outbound requests (limits.max_outbound_requests)".into(),
                HttpError::ConnectionLimitReached,
            ));
        }
        self.requests_left -= 1;
        Ok(origin)
    }
}

/// A whole response, as `wasmhook:rule/http-client` returns it.
pub struct WholeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CallOutbound {
    /// Sends one request made through `wasmhook:rule/http-client` the way a `wasi:http` request
    /// goes ([`WasiHttpHooks::send_request`]: the same grant, limits, credentials and log), and
    /// reads the whole response. The error is the message the rule gets: what failed and, when
    /// the server refused, what to change.
    pub async fn send_whole(
        &mut self,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<WholeResponse, String> {
        let origin_of = |url: &str| {
            let host = url.split_once("://").map_or(url, |(_, rest)| rest);
            GuestText::new(host.split(['/', '?']).next().unwrap_or(""), 256).to_string()
        };
        let fail = |why: &str| format!("HTTP request to {} failed: {why}", origin_of(&url));
        let mut request = http::Request::builder()
            .method(method.as_str())
            .uri(url.as_str());
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let body = http_body_util::Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = request
            .body(body)
            .map_err(|_| fail("the method, URL or a header is not valid HTTP"))?;
        let io = Box::new(async { Ok(()) });
        let (response, _io) = Box::into_pin(self.send_request(request, None, io))
            .await
            .map_err(|error| fail(&refusal_text(&error)))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|error| fail(&refusal_text(&error)))?;
        Ok(WholeResponse {
            status: parts.status.as_u16(),
            headers: parts
                .headers
                .iter()
                .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.into())))
                .collect(),
            body: body.to_bytes().to_vec(),
        })
    }
}

/// What a rule is told when a request got no response: what to change where the server decided
/// (the same words as the Rust SDK's `http` module).
fn refusal_text(error: &HttpError) -> String {
    match error {
        HttpError::HttpRequestDenied => {
            "refused by the server: the route does not grant this origin (allowed_outbound_hosts)"
                .into()
        }
        HttpError::ConnectionLimitReached => "refused by the server: the call has sent its most \
             requests (limits.max_outbound_requests)"
            .into(),
        HttpError::DestinationIpProhibited => {
            "refused by the server: the host resolves to a non-public address".into()
        }
        HttpError::HttpResponseBodySize(_) => "the response body could not be read in full: it \
             is larger than the route allows (limits.max_outbound_response_kb), or the upstream \
             cut it off"
            .into(),
        HttpError::ConnectionTimeout => "timed out (the call's deadline applies)".into(),
        HttpError::HttpRequestUriInvalid => "the URL is not an http(s) URL with a host".into(),
        HttpError::ConnectionRefused => "the upstream refused the connection".into(),
        other => format!("{other:?}"),
    }
}

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for CallOutbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Sent {
        let origin = match self.admit(request.uri()) {
            Ok(origin) => origin,
            Err((reason, error)) => {
                let host = request.uri().authority().map_or("", |a| a.as_str());
                tracing::warn!(host = %GuestText::new(host, 256), reason, "outbound request refused");
                return Box::new(async move { Err(error) });
            }
        };
        let credentials: Vec<(HeaderName, HeaderValue)> = self
            .grant
            .credentials
            .iter()
            .filter(|credential| credential.origin == origin)
            .map(|credential| (credential.header.clone(), credential.value.clone()))
            .collect();
        let client = self.client.0.clone();
        let deadline = self.deadline;
        let max_response_bytes = self.max_response_bytes;
        Box::new(tracing::Instrument::instrument(
            async move {
                let started = Instant::now();
                let result = send(client, request, credentials, deadline, max_response_bytes).await;
                let duration_ms = started.elapsed().as_millis() as u64;
                match &result {
                    Ok(response) => tracing::info!(
                        host = %origin,
                        status = response.status().as_u16(),
                        duration_ms,
                        "outbound request"
                    ),
                    Err(failed) => tracing::warn!(
                        host = %origin,
                        error = %failed.describe(),
                        duration_ms,
                        "outbound request failed"
                    ),
                }
                let response = result.map_err(Failed::into_wasi)?;
                let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                    Box::new(async { Ok(()) });
                Ok((response, io))
            },
            tracing::Span::current(),
        ))
    }
}

/// Why a request that was allowed to go out got no response.
enum Failed {
    RequestBodyTooLarge,
    RequestBody,
    /// The URL the rule built is not one the client can send to.
    InvalidUrl,
    /// The call's deadline had passed, or passed while waiting.
    Deadline,
    NonPublicAddress,
    Client(reqwest::Error),
}

impl Failed {
    /// For the log: what went wrong, without the URL (its path and query may carry data).
    fn describe(&self) -> String {
        match self {
            Failed::RequestBodyTooLarge => {
                format!("the request body is larger than {MAX_REQUEST_BODY_BYTES} bytes")
            }
            Failed::RequestBody => "the rule did not finish the request body".into(),
            Failed::InvalidUrl => "the URL is not valid".into(),
            Failed::Deadline => "the call's deadline passed".into(),
            Failed::NonPublicAddress => {
                "the host resolves to a non-public address (loopback, private, link-local, …); \
                 grant the IP literal to reach a private address"
                    .into()
            }
            Failed::Client(error) => {
                let kind = if error.is_connect() {
                    "cannot connect"
                } else if error.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                let mut cause: &dyn std::error::Error = error;
                while let Some(source) = cause.source() {
                    cause = source;
                }
                format!("{kind}: {}", GuestText::new(&cause.to_string(), 256))
            }
        }
    }

    fn into_wasi(self) -> HttpError {
        match self {
            Failed::RequestBodyTooLarge => {
                HttpError::HttpRequestBodySize(Some(MAX_REQUEST_BODY_BYTES as u64))
            }
            Failed::RequestBody => HttpError::HttpProtocolError,
            Failed::InvalidUrl => HttpError::HttpRequestUriInvalid,
            Failed::Deadline => HttpError::ConnectionTimeout,
            Failed::NonPublicAddress => HttpError::DestinationIpProhibited,
            Failed::Client(error) if error.is_timeout() => HttpError::ConnectionTimeout,
            Failed::Client(error) if error.is_connect() => HttpError::ConnectionRefused,
            Failed::Client(_) => HttpError::HttpProtocolError,
        }
    }
}

/// Sends `request` with the host's `credentials` (replacing any header of the same name the rule
/// set), to be answered by `deadline`; the response body is cut off past `max_response_bytes`.
async fn send(
    client: reqwest::Client,
    request: http::Request<WasiBody>,
    credentials: Vec<(HeaderName, HeaderValue)>,
    deadline: Instant,
    max_response_bytes: usize,
) -> Result<http::Response<WasiBody>, Failed> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_REQUEST_BODY_BYTES).collect().await;
    let body = match body {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(Failed::RequestBodyTooLarge);
        }
        Err(_) => return Err(Failed::RequestBody),
    };
    let time_left = deadline.saturating_duration_since(Instant::now());
    if time_left.is_zero() {
        return Err(Failed::Deadline);
    }
    let mut headers = parts.headers;
    // The client sets `host` from the URL itself.
    headers.remove(http::header::HOST);
    for (name, value) in credentials {
        headers.insert(name, value);
    }
    let url = reqwest::Url::parse(&parts.uri.to_string()).map_err(|_| Failed::InvalidUrl)?;
    let response = client
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .timeout(time_left)
        .send()
        .await
        .map_err(|error| {
            if error_chain_has::<NonPublicAddress>(&error) {
                Failed::NonPublicAddress
            } else {
                Failed::Client(error)
            }
        })?;
    let response: http::Response<reqwest::Body> = response.into();
    Ok(response.map(|body| {
        Limited::new(body, max_response_bytes)
            .map_err(move |error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    tracing::warn!(
                        limit = max_response_bytes,
                        "outbound response cut off: larger than limits.max_outbound_response_kb"
                    );
                    HttpError::HttpResponseBodySize(Some(max_response_bytes as u64))
                } else {
                    HttpError::HttpResponseIncomplete
                }
            })
            .map_frame(|frame| frame.map_data(Bytes::from))
            .boxed_unsync()
    }))
}

fn error_chain_has<E: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<E>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The client's resolver: a name's addresses are used only if every one of them is public.
/// Refusing the whole answer (rather than keeping its public part) leaves no way for a DNS answer
/// that mixes addresses to reach an inside one.
struct PublicAddressesOnly;

#[derive(Debug, thiserror::Error)]
#[error("the name resolves to a non-public address")]
struct NonPublicAddress;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addresses.iter().any(|address| !is_public(address.ip())) {
                return Err(Box::new(NonPublicAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Whether `ip` is a unicast address on the public internet: not loopback, private, shared
/// (carrier NAT), link-local, unique-local, documentation, benchmarking, reserved, unspecified,
/// broadcast or multicast, also when written as an IPv4-mapped or NAT64 IPv6 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., high, low] = segments;
                return is_public_v4(Ipv4Addr::from(((high as u32) << 16) | low as u32));
            }
            let first = segments[0];
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || segments[..6] == [0; 6] // IPv4-compatible (deprecated) and the like
                || first & 0xfe00 == 0xfc00 // unique local
                || first & 0xffc0 == 0xfe80 // link-local
                || first & 0xffc0 == 0xfec0 // site-local (deprecated)
                || (first == 0x2001 && segments[1] == 0x0db8) // documentation
                || (first == 0x2001 && segments[1] < 0x0200)) // IETF protocol assignments, Teredo
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Addresses no grant may name: nothing serves a rule there, and the metadata endpoint lives
/// at one of them.
fn never_a_service(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            let v4 = v6.to_ipv4_mapped();
            v6.is_unspecified()
                || v6.is_multicast()
                || v6.segments()[0] & 0xffc0 == 0xfe80
                || v4.is_some_and(|v4| never_a_service(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v6(text: &str) -> IpAddr {
        IpAddr::V6(text.parse::<Ipv6Addr>().unwrap())
    }

    #[test]
    fn grants_are_a_scheme_a_host_and_a_port() {
        let origin = Origin::parse("https://sms.example.net").unwrap();
        assert_eq!(origin.to_string(), "https://sms.example.net");
        assert_eq!(origin.port, 443);
        let origin = Origin::parse("https://SMS.Example.net:8443").unwrap();
        assert_eq!(origin.to_string(), "https://sms.example.net:8443");
        assert_eq!(
            Origin::parse("http://127.0.0.1:8081").unwrap().to_string(),
            "http://127.0.0.1:8081"
        );
        assert!(Origin::parse("http://[::1]:8081").is_ok());
        assert!(
            Origin::parse("https://10.1.2.3").is_ok(),
            "a private literal, granted on purpose"
        );
        for (grant, why) in [
            ("http://sms.example.net", "plain http"),
            ("http://10.1.2.3", "plain http"),
            ("http://localhost:8081", "`localhost` is a name"),
            ("https://sms.example.net/v1", "without a path"),
            ("https://sms.example.net/", "without a path"),
            ("https://sms.example.net?x=1", "without a path"),
            (
                "https://key:secret@sms.example.net",
                "credentials do not belong",
            ),
            ("ftp://sms.example.net", "the scheme must be"),
            ("https://169.254.169.254", "no rule may reach it"),
            ("https://[fe80::1]", "no rule may reach it"),
            ("https://0.0.0.0", "no rule may reach it"),
            ("sms.example.net", "not a URL"),
        ] {
            let refused = Origin::parse(grant).unwrap_err();
            assert!(refused.contains(why), "{grant}: {refused}");
            assert!(!refused.contains("secret"), "{refused}");
        }
    }

    #[test]
    fn a_request_is_matched_to_its_origin_exactly() {
        let origin = |uri: &str| Origin::of(&uri.parse().unwrap());
        let granted = Origin::parse("https://sms.example.net").unwrap();
        assert_eq!(
            origin("https://sms.example.net/v1/send?x=1"),
            Some(granted.clone())
        );
        assert_eq!(
            origin("https://SMS.example.net:443/"),
            Some(granted.clone())
        );
        assert_ne!(
            origin("https://sms.example.net:8443/"),
            Some(granted.clone())
        );
        assert_ne!(origin("http://sms.example.net/"), Some(granted.clone()));
        assert_ne!(origin("https://sms.example.net.evil.com/"), Some(granted));
        assert_eq!(
            origin("http://[::1]:8081/x"),
            Some(Origin::parse("http://[::1]:8081").unwrap())
        );
        assert_eq!(origin("/relative"), None);
    }

    #[test]
    fn only_public_addresses_pass() {
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for inside in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        assert!(is_public(v6("64:ff9b::808:808")));
    }

    #[test]
    fn a_credential_never_prints_its_value() {
        let credential = Credential {
            origin: Origin::parse("https://sms.example.net").unwrap(),
            header: HeaderName::from_static("authorization"),
            value: HeaderValue::from_static("Bearer top-secret"),
        };
        assert!(!format!("{credential:?}").contains("top-secret"));
    }
}
