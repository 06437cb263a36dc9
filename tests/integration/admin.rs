//! The admin listener (`admin_listen` / `--admin-listen`): `/metrics` and the detailed status
//! (tenant ids, rule paths, load errors) leave the hook port, which keeps the hooks, `/healthz`
//! and a `/readyz` that says only ready or degraded.

use std::net::SocketAddr;

use crate::common::{AUTH, SSR_OIE, ServeProcess, email_domain_tenant, send, write_config};

/// The admin listener's address, from its start-up line.
fn admin_address(server: &ServeProcess) -> SocketAddr {
    let line = server
        .log()
        .into_iter()
        .find(|line| line.contains("admin listening"))
        .expect("an `admin listening` line");
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    line["address"].as_str().unwrap().parse().unwrap()
}

fn get(runtime: &tokio::runtime::Runtime, address: SocketAddr, path: &str) -> crate::common::Reply {
    runtime.block_on(send(address, "GET", path, &[], Default::default()))
}

/// What each listener serves, for a server with an admin listener.
fn assert_split(server: &ServeProcess) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (public, admin) = (server.address, admin_address(server));
    assert_ne!(public, admin);

    let hook = runtime.block_on(send(public, "POST", "/hooks/t", &[AUTH], SSR_OIE.into()));
    assert_eq!(hook.status, 204, "hooks stay on the hook port");
    assert_eq!(get(&runtime, public, "/healthz").status, 200);
    assert_eq!(get(&runtime, public, "/metrics").status, 404);
    let ready = get(&runtime, public, "/readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), serde_json::json!({"status": "ready"}));
    assert!(
        !ready.body.contains("email_domain"),
        "no rule path: {}",
        ready.body
    );

    let on_admin = runtime.block_on(send(admin, "POST", "/hooks/t", &[AUTH], SSR_OIE.into()));
    assert_eq!(on_admin.status, 404, "no hooks on the admin port");
    let metrics = get(&runtime, admin, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("wasmhook_hook_answers_total{tenant=\"t\""),
        "{}",
        metrics.body
    );
    let status = get(&runtime, admin, "/readyz").json();
    assert!(
        status["tenants"]["t"]["routes"][0]["rule"]
            .as_str()
            .unwrap()
            .ends_with("email_domain.wasm"),
        "{status}"
    );
    assert_eq!(get(&runtime, admin, "/healthz").status, 200);
}

#[test]
fn admin_listen_in_the_config_moves_metrics_and_the_detailed_status_off_the_hook_port() {
    let config = format!(
        "admin_listen = \"127.0.0.1:0\"\n{}",
        email_domain_tenant("t")
    );
    let server = ServeProcess::start(&write_config(&config), "info");
    assert_split(&server);
    server.stop();
}

#[test]
fn the_admin_listen_flag_or_its_environment_variable_sets_it_too() {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmhook"));
    command
        .args(["--log-format", "json"])
        .env("WASMHOOK_ADMIN_LISTEN", "127.0.0.1:0");
    let server = ServeProcess::spawn(command, &write_config(&email_domain_tenant("t")), "info");
    assert_split(&server);
    server.stop();
}

#[test]
fn without_an_admin_listener_the_hook_port_serves_everything_as_before() {
    let server = ServeProcess::start(&write_config(&email_domain_tenant("t")), "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(!server.log().iter().any(|l| l.contains("admin listening")));
    assert_eq!(get(&runtime, server.address, "/metrics").status, 200);
    let status = get(&runtime, server.address, "/readyz").json();
    assert!(status["tenants"]["t"].is_object(), "{status}");
    server.stop();
}
