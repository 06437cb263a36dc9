//! Closed-loop load that times every call: where in a run the slow calls fall.
//!
//! wrk reports one latency distribution for a whole run. When a neighbour's bad deploy starts
//! with the run, that hides whether the run's p99 comes from the second in which the circuit
//! breakers open or from the rest. This keeps `connections` keep-alive connections busy on
//! `url` for `seconds`, as `wrk -c` does, and prints one line in the format of
//! `benches/post.lua` (latencies in microseconds), followed by the same figures for the first
//! second and for the rest of the run, and, given `SLOW_US`, how many calls there took longer:
//! `RESULT rps=… seconds=… p50=… p99=… p999=… errors=… first_second_p99=… rest_p99=…
//! calls=… first_second_calls=… slow_first_second=… slow_rest=…`.
//!
//!     cargo bench -p wasmhook --bench closed_loop -- PAYLOAD.json CONNECTIONS SECONDS URL [SLOW_US]
//!
//! Non-2xx answers and failed connections count as errors. One thread, as `wrk -t1`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

const AUTH: &str = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";

/// One call: when it left (since the run started) and how long its answer took.
struct Call {
    left: Duration,
    latency: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [payload, connections, seconds, url, slow @ ..] = args.as_slice() else {
        eprintln!("usage: closed_loop PAYLOAD.json CONNECTIONS SECONDS URL [SLOW_US]");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(payload).expect("the payload file reads"));
    let connections: usize = connections.parse().expect("CONNECTIONS is a number");
    let seconds = Duration::from_secs_f64(seconds.parse().expect("SECONDS is a number"));
    let url: http::Uri = url.parse().expect("a URL");
    let slow = slow
        .first()
        .map(|us| Duration::from_micros(us.parse().expect("SLOW_US is a number")));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (calls, errors, took) = runtime.block_on(async {
        let start = Instant::now();
        let workers: Vec<_> = (0..connections)
            .map(|_| tokio::spawn(drive(url.clone(), body.clone(), start, start + seconds)))
            .collect();
        let (mut calls, mut errors) = (Vec::new(), 0);
        for worker in workers {
            let (answered, failed) = worker.await.unwrap();
            calls.extend(answered);
            errors += failed;
        }
        (calls, errors, start.elapsed())
    });

    let first_second = |call: &Call| call.left < Duration::from_secs(1);
    let (first, rest): (Vec<&Call>, Vec<&Call>) = calls.iter().partition(|c| first_second(c));
    let all: Vec<&Call> = calls.iter().collect();
    let slow_in = |part: &[&Call]| {
        slow.map_or(String::new(), |slow| {
            part.iter()
                .filter(|call| call.latency > slow)
                .count()
                .to_string()
        })
    };
    println!(
        "RESULT rps={:.0} seconds={:.3} p50={} p99={} p999={} errors={errors} first_second_p99={} \
         rest_p99={} calls={} first_second_calls={} slow_first_second={} slow_rest={}",
        (calls.len() + errors) as f64 / took.as_secs_f64(),
        took.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        percentile(&first, 0.99),
        percentile(&rest, 0.99),
        calls.len(),
        first.len(),
        slow_in(&first),
        slow_in(&rest),
    );
}

/// The latency below which a fraction `p` of `calls` fall, in microseconds (0 for none).
fn percentile(calls: &[&Call], p: f64) -> u128 {
    let mut latencies: Vec<Duration> = calls.iter().map(|call| call.latency).collect();
    latencies.sort();
    let index = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
    latencies.get(index).map_or(0, Duration::as_micros)
}

/// Calls `url` on one keep-alive connection, one call after the other, until `end`: the calls
/// answered with a 2xx status, and how many were not (a lost connection is re-opened).
async fn drive(url: http::Uri, body: Bytes, start: Instant, end: Instant) -> (Vec<Call>, usize) {
    let (mut calls, mut errors) = (Vec::new(), 0);
    while Instant::now() < end {
        let Ok(mut sender) = connect(&url).await else {
            errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while Instant::now() < end {
            let request = Request::post(url.path())
                .header("host", url.host().unwrap_or("127.0.0.1"))
                .header("authorization", AUTH)
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("a valid request");
            let left = Instant::now();
            let answered = match sender.send_request(request).await {
                Ok(response) => {
                    let ok = response.status().is_success();
                    response.into_body().collect().await.is_ok() && ok
                }
                Err(_) => false,
            };
            if answered {
                calls.push(Call {
                    left: left - start,
                    latency: left.elapsed(),
                });
            } else {
                errors += 1;
                if sender.is_closed() {
                    break;
                }
            }
        }
    }
    (calls, errors)
}

async fn connect(url: &http::Uri) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let host = url.host().unwrap_or("127.0.0.1");
    let stream = TcpStream::connect((host, url.port_u16().unwrap_or(80))).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}
