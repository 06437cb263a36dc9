//! Event hooks, as far as they go today: Okta's one-time verification `GET` with
//! `x-okta-verification-challenge` is answered with the challenge echoed, for the tenant's
//! header secret only. Delivery (`POST` of `com.okta.event_hook`) is issue #14.

use serde_json::Value;

use crate::common::{AUTH, TestServer};

const CHALLENGE: &str = "x-okta-verification-challenge";

async fn verify(server: &TestServer, headers: &[(&str, &str)]) -> crate::common::Reply {
    server.request("GET", "/hooks/demo", headers, "").await
}

#[tokio::test]
async fn the_challenge_is_echoed_for_the_right_secret_only() {
    let server = TestServer::quickstart().await;
    let reply = verify(&server, &[AUTH, (CHALLENGE, "r3m6k0sc3t1e2n")]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), Some("application/json"));
    assert_eq!(reply.body, r#"{"verification":"r3m6k0sc3t1e2n"}"#);
    let wrong = ("authorization", "Basic d3Jvbmc6c2VjcmV0");
    for headers in [vec![(CHALLENGE, "abc")], vec![wrong, (CHALLENGE, "abc")]] {
        let reply = verify(&server, &headers).await;
        assert_eq!(reply.status, 401, "{headers:?}: {}", reply.body);
        assert!(!reply.body.contains("abc"), "{}", reply.body);
    }
    let unknown = server
        .request("GET", "/hooks/nobody", &[AUTH, (CHALLENGE, "abc")], "")
        .await;
    assert_eq!(unknown.status, 404);
    // Without a challenge, a GET is still the wrong method.
    let plain = verify(&server, &[AUTH]).await;
    assert_eq!(plain.status, 405);
}

#[tokio::test]
async fn odd_challenges_are_echoed_as_json_and_long_ones_refused() {
    let server = TestServer::quickstart().await;
    for odd in [
        r#"a"b\c"#,
        "</script>&amp;",
        "  spaced  out ",
        "{\"verification\":1}",
    ] {
        let reply = verify(&server, &[AUTH, (CHALLENGE, odd)]).await;
        assert_eq!(reply.status, 200, "{odd}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        // hyper trims the header value's surrounding spaces, as HTTP says.
        assert_eq!(body["verification"], odd.trim(), "{}", reply.body);
        assert_eq!(body.as_object().unwrap().len(), 1);
    }
    let longest = "v".repeat(1024);
    let reply = verify(&server, &[AUTH, (CHALLENGE, &longest)]).await;
    assert_eq!(reply.status, 200);
    let too_long = "v".repeat(1025);
    let reply = verify(&server, &[AUTH, (CHALLENGE, &too_long)]).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(!reply.body.contains(&too_long));
    let empty = verify(&server, &[AUTH, (CHALLENGE, "")]).await;
    assert_eq!(empty.status, 400, "{}", empty.body);
}
