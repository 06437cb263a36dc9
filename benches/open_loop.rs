//! Open-loop load, as Okta sends it: calls at a fixed rate whatever the answers' latency.
//!
//! wrk keeps a fixed number of connections busy (closed loop): a slow server is then called
//! less, which hides what a tenant calling at a steady rate does to its neighbours. This calls
//! each URL `rate` times a second, each call on a connection of its own, for `seconds`, and
//! prints one line per URL, in the order given:
//! `RESULT url=… sent=… answered=… statuses=200:…,204:… p50=…ms p99=…ms`.
//!
//!     cargo bench -p wasmhook --bench open_loop -- PAYLOAD.json RATE SECONDS URL...
//!
//! One process on one thread drives every URL, so that the load generator takes as little as
//! possible of the cores it shares with the server and the healthy tenant's wrk
//! (`benches/noisy-neighbour.sh`): three Python clients at 100 calls a second cost the healthy
//! tenant about as much as the calls themselves did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const AUTH: &str = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";

/// What the calls to one URL got: a status (or `error`) per call, and the latencies answered.
#[derive(Default)]
struct Tally {
    sent: usize,
    statuses: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [payload, rate, seconds, urls @ ..] = args.as_slice() else {
        eprintln!("usage: open_loop PAYLOAD.json RATE SECONDS URL...");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(payload).expect("the payload file reads"));
    let rate: f64 = rate.parse().expect("RATE is a number");
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let calls = (rate * seconds) as usize;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tallies = runtime.block_on(async {
        let drivers = urls.iter().map(|url| {
            let url: http::Uri = url.parse().expect("a URL");
            tokio::spawn(drive(url, body.clone(), rate, calls))
        });
        let mut tallies = Vec::new();
        for driver in drivers.collect::<Vec<_>>() {
            tallies.push(driver.await.unwrap());
        }
        tallies
    });
    for (url, mut tally) in urls.iter().zip(tallies) {
        tally.latencies.sort();
        let percentile = |p: f64| {
            let index = ((tally.latencies.len() as f64 * p) as usize)
                .min(tally.latencies.len().saturating_sub(1));
            tally
                .latencies
                .get(index)
                .map_or(0.0, |latency| latency.as_secs_f64() * 1e3)
        };
        let statuses: Vec<String> = tally
            .statuses
            .iter()
            .map(|(status, count)| format!("{status}:{count}"))
            .collect();
        println!(
            "RESULT url={url} sent={} answered={} statuses={} p50={:.2}ms p99={:.2}ms",
            tally.sent,
            tally.latencies.len(),
            statuses.join(","),
            percentile(0.5),
            percentile(0.99),
        );
    }
}

/// Calls `url` `calls` times on a fixed schedule: the i-th call leaves at start + i / rate,
/// however late the others are answered.
async fn drive(url: http::Uri, body: Bytes, rate: f64, calls: usize) -> Tally {
    let start = tokio::time::Instant::now();
    let mut in_flight = Vec::with_capacity(calls);
    for i in 0..calls {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        in_flight.push(tokio::spawn(call(url.clone(), body.clone())));
    }
    let mut tally = Tally {
        sent: calls,
        ..Tally::default()
    };
    for call in in_flight {
        match call.await.unwrap() {
            Ok((status, latency)) => {
                *tally.statuses.entry(status.to_string()).or_default() += 1;
                tally.latencies.push(latency);
            }
            Err(_) => *tally.statuses.entry("error".into()).or_default() += 1,
        }
    }
    tally
}

/// One call on a new connection, closed after the answer: its status and latency.
async fn call(url: http::Uri, body: Bytes) -> anyhow::Result<(u16, Duration)> {
    let started = Instant::now();
    let host = url.host().unwrap_or("127.0.0.1");
    let stream = TcpStream::connect((host, url.port_u16().unwrap_or(80))).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::post(url.path())
        .header("host", host)
        .header("authorization", AUTH)
        .header("content-type", "application/json")
        .header("connection", "close")
        .body(Full::new(body))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok((status, started.elapsed()))
}
