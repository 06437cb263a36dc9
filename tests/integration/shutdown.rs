//! Graceful shutdown: requests in flight finish, new connections are refused.

use std::time::Duration;

use crate::common::{SSR_OIE, TestServer, assert_fail_closed, misbehave_config};

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let server =
        TestServer::with_config(&misbehave_config("loop", "limits = { deadline_ms = 400 }")).await;
    let addr = server.addr;
    let in_flight = tokio::spawn(crate::common::send(
        addr,
        "POST",
        "/hooks/t",
        &[crate::common::AUTH],
        SSR_OIE.into(),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    // The call that was running when shutdown began got its full answer.
    assert_fail_closed(&in_flight.await.unwrap());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}
