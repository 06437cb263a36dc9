//! Calls that are wrong before any rule runs: each gets its pinned status and a JSON `error`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{AUTH, Reply, SSR_OIE, TestServer};

fn assert_error(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.content_type(), Some("application/json"));
    assert!(
        reply.json()["error"]["errorSummary"].is_string(),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_without_detail() {
    let server = TestServer::quickstart().await;
    let cases: [&[(&str, &str)]; 4] = [
        &[],
        &[("authorization", "Basic d3Jvbmc6d3Jvbmc=")],
        &[("authorization", "YWRtaW46c3VwZXJzZWNyZXQ=")],
        &[("x-okta-secret", AUTH.1)],
    ];
    for headers in cases {
        let reply = server
            .request("POST", "/hooks/demo", headers, SSR_OIE)
            .await;
        assert_error(&reply, 401);
        assert_eq!(reply.json()["error"]["errorSummary"], "Unauthorized.");
    }
}

#[tokio::test]
async fn unknown_tenants_and_paths_get_404() {
    let server = TestServer::quickstart().await;
    for path in [
        "/hooks/nobody",
        "/hooks/",
        "/hooks/demo/",
        "/hooks/demo/extra",
        "/",
        "/hook/demo",
    ] {
        assert_error(&server.request("POST", path, &[AUTH], SSR_OIE).await, 404);
    }
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let server = TestServer::quickstart().await;
    for (method, path, allow) in [
        ("GET", "/hooks/demo", "POST"),
        ("PUT", "/hooks/demo", "POST"),
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/metrics", "GET, HEAD"),
    ] {
        let reply = server.request(method, path, &[AUTH], "").await;
        assert_error(&reply, 405);
        assert_eq!(reply.headers["allow"], allow);
    }
}

#[tokio::test]
async fn unparsable_or_structurally_invalid_requests_get_400() {
    let server = TestServer::quickstart().await;
    for body in [
        "",
        "{",
        "not json",
        "[]",
        "\"a string\"",
        r#"{"data":{}}"#,
        r#"{"eventType":42,"data":{}}"#,
        r#"{"eventType":"com.okta.user.pre-registration"}"#,
        r#"{"eventType":"com.okta.user.pre-registration","data":"x"}"#,
    ] {
        let reply = server.hook("/hooks/demo", body).await;
        assert_error(&reply, 400);
        assert!(
            reply.json()["error"]["errorSummary"]
                .as_str()
                .unwrap()
                .starts_with("Invalid hook request")
        );
    }
    let invalid_utf8 = server
        .request(
            "POST",
            "/hooks/demo",
            &[AUTH],
            &b"{\"eventType\":\"\xff\"}"[..],
        )
        .await;
    assert_error(&invalid_utf8, 400);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_get_413() {
    let server = TestServer::quickstart().await;
    let limit = wasmhook::http::MAX_BODY_BYTES;
    let padded = format!(
        "{},\"pad\":\"{}\"}}",
        SSR_OIE.trim_end().trim_end_matches('}'),
        "x".repeat(limit)
    );
    assert_error(
        &server.request("POST", "/hooks/demo", &[AUTH], padded).await,
        413,
    );

    // Chunked, so the size is only known while reading.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /hooks/demo HTTP/1.1\r\nhost: x\r\n{}: {}\r\ntransfer-encoding: chunked\r\n\r\n",
        AUTH.0, AUTH.1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..(limit / chunk.len() + 1) {
        let size = format!("{:x}\r\n", chunk.len());
        if stream.write_all(size.as_bytes()).await.is_err() {
            break;
        }
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
        if stream.write_all(b"\r\n").await.is_err() {
            break;
        }
    }
    let mut response = vec![0; 12];
    stream.read_exact(&mut response).await.unwrap();
    assert_eq!(&response, b"HTTP/1.1 413");

    // A body right at the limit is read (and then judged on its content).
    let at_limit = format!("{}{}", " ".repeat(limit - SSR_OIE.len()), SSR_OIE);
    assert_eq!(server.hook("/hooks/demo", &at_limit).await.status, 204);
}

#[tokio::test]
async fn unauthenticated_callers_are_refused_before_their_body_is_read() {
    let server = TestServer::quickstart().await;
    let huge = "x".repeat(2 * wasmhook::http::MAX_BODY_BYTES);
    assert_error(&server.request("POST", "/hooks/demo", &[], huge).await, 401);
}

/// A key repeated in any object of the body (where parsers disagree on which copy wins) is a
/// 400 naming the key, wherever it is; at the top level as inside `userProfile`.
#[tokio::test]
async fn a_key_repeated_in_any_object_gets_400() {
    let server = TestServer::quickstart().await;
    for (body, key) in [
        (
            SSR_OIE.replace(r#""eventId""#, r#""data":{},"eventId""#),
            "data",
        ),
        (
            SSR_OIE.replace(
                r#""firstName""#,
                r#""email":"a@evilexample.com","firstName""#,
            ),
            "email",
        ),
    ] {
        let reply = server.hook("/hooks/demo", &body).await;
        assert_error(&reply, 400);
        let summary = reply.json()["error"]["errorSummary"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            summary.contains(&format!("the key `{key}` appears twice")),
            "{summary}"
        );
    }
}

/// A `requestType` that is not a string is an unknown request type: the failure policy answers
/// (registration: deny) without running the self-service rule, and the call counts as unrouted.
#[tokio::test]
async fn a_request_type_that_is_not_a_string_is_answered_by_the_failure_policy() {
    let server = TestServer::quickstart().await;
    for request_type in ["{}", "5", "[]"] {
        let body = SSR_OIE.replace(r#""self.service.registration""#, request_type);
        assert_ne!(body, SSR_OIE);
        crate::common::assert_fail_closed(&server.hook("/hooks/demo", &body).await);
    }
    let metrics = server.get("/metrics").await.body;
    assert!(
        metrics.contains(r#"wasmhook_unrouted_calls_total{tenant="demo"} 3"#),
        "{metrics}"
    );
}
