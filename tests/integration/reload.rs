//! Hot reload: rule and config changes are served without a restart, broken files never replace
//! working ones, and calls in flight during swaps are all answered.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{AUTH, Reply, SSR_OIE, ServeProcess, TestServer, rule, send};

/// Rule A (email-domain) denies this call; rule B (employee-number) allows it with 204.
fn call() -> String {
    SSR_OIE.replace("@example.com", "@example.org")
}

fn is_rule_a(reply: &Reply) -> bool {
    reply.status == 200 && reply.body.contains("INVALID_EMAIL_DOMAIN")
}

fn is_rule_b(reply: &Reply) -> bool {
    reply.status == 204
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmhook-reload-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tenant(id: &str, rule_file: &str) -> String {
    let settings = "{ allowed_domains = [\"example.com\"] }";
    crate::common::tenant_toml(id, Path::new(rule_file), settings, "")
}

/// Replaces `path` the way editors do: write a temporary file, then rename it over.
fn replace_by_rename(path: &Path, contents: &[u8]) {
    let temporary = path.with_extension("tmp~");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

fn rule_bytes(name: &str) -> Vec<u8> {
    std::fs::read(rule(name)).unwrap()
}

/// Polls `/hooks/{tenant}` until `done` holds; returns how long it took.
async fn until(server: &TestServer, tenant: &str, done: impl Fn(&Reply) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let reply = server.hook(&format!("/hooks/{tenant}"), &call()).await;
        if done(&reply) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_replaced_rule_serves_within_a_second() {
    let dir = folder("replace");
    std::fs::write(dir.join("rule.wasm"), rule_bytes("email_domain")).unwrap();
    std::fs::write(dir.join("config.toml"), tenant("t", "rule.wasm")).unwrap();
    let server = TestServer::start(&dir.join("config.toml")).await;
    assert!(is_rule_a(&server.hook("/hooks/t", &call()).await));

    replace_by_rename(&dir.join("rule.wasm"), &rule_bytes("employee_number"));
    let took = until(&server, "t", is_rule_b).await;
    assert!(took < Duration::from_secs(1), "rename: {took:?}");

    // `cp` over the file: truncate and write in place.
    std::fs::copy(rule("email_domain"), dir.join("rule.wasm")).unwrap();
    let took = until(&server, "t", is_rule_a).await;
    assert!(took < Duration::from_secs(1), "copy: {took:?}");
}

#[tokio::test]
async fn a_corrupt_rule_keeps_the_last_good_version_and_shows_the_error() {
    let dir = folder("corrupt");
    std::fs::write(dir.join("rule.wasm"), rule_bytes("email_domain")).unwrap();
    std::fs::write(dir.join("config.toml"), tenant("t", "rule.wasm")).unwrap();
    let server = TestServer::start(&dir.join("config.toml")).await;
    let status = server.get("/readyz").await.json();
    let route = &status["tenants"]["t"]["routes"][0];
    assert_eq!(route["sha256"].as_str().unwrap().len(), 64);
    assert!(route["loaded_at"].as_str().unwrap().ends_with('Z'));

    // A failed download: wasmtime's error lists the bytes one per line; /readyz shows one line.
    replace_by_rename(
        &dir.join("rule.wasm"),
        b"<!doctype html>\n<p>Not Found</p>\n",
    );
    let started = Instant::now();
    let error = loop {
        let status = server.get("/readyz").await.json();
        if let Some(error) = status["tenants"]["t"]["error"].as_str() {
            break error.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no error shown: {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        error.contains("rule.wasm") && error.contains("not a valid WebAssembly component"),
        "{error}"
    );
    // Degraded, and still 200: the tenant serves its last good version.
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status, 200);
    let status = ready.json();
    assert_eq!(status["status"], "degraded", "{status}");
    assert_eq!(status["problems"][0], error.as_str(), "{status}");
    assert!(
        !error.contains('\n') && error.contains("hint: the file is not WebAssembly"),
        "{error}"
    );
    assert!(
        is_rule_a(&server.hook("/hooks/t", &call()).await),
        "the last good rule keeps serving"
    );
    let degraded = "wasmhook_tenants_degraded ";
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains(&format!("{degraded}1\n")), "{metrics}");

    replace_by_rename(&dir.join("rule.wasm"), &rule_bytes("employee_number"));
    until(&server, "t", is_rule_b).await;
    let status = server.get("/readyz").await.json();
    assert!(status["tenants"]["t"]["error"].is_null());
    assert_eq!(status["status"], "ready", "{status}");
    assert_eq!(status["problems"], serde_json::json!([]));
    let metrics = server.get("/metrics").await.body;
    assert!(metrics.contains(&format!("{degraded}0\n")), "{metrics}");
}

#[test]
fn a_reload_logs_why_it_started_and_each_route_that_changed_version() {
    let dir = folder("logged");
    std::fs::write(dir.join("rule.wasm"), rule_bytes("email_domain")).unwrap();
    std::fs::write(dir.join("config.toml"), tenant("t", "rule.wasm")).unwrap();
    let server = ServeProcess::start(&dir.join("config.toml"), "info");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sha256 = || {
        let reply = send(server.address, "GET", "/readyz", &[], Default::default());
        let status = runtime.block_on(reply).json();
        status["tenants"]["t"]["routes"][0]["sha256"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let old = sha256();

    replace_by_rename(&dir.join("rule.wasm"), &rule_bytes("employee_number"));
    let started = server.wait_for_line(|line| line.contains("reloading the configuration"));
    let started: serde_json::Value = serde_json::from_str(&started).unwrap();
    let cause = started["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("changed: ") && cause.contains("rule.wasm"),
        "{started}"
    );
    let changed = server.wait_for_line(|line| line.contains("route serves a new rule version"));
    let changed: serde_json::Value = serde_json::from_str(&changed).unwrap();
    assert_eq!(changed["tenant"], "t");
    assert_eq!(changed["route"], "com.okta.user.pre-registration");
    assert!(changed["rule"].as_str().unwrap().ends_with("rule.wasm"));
    assert_eq!(changed["old_sha256"], old.as_str());
    assert_ne!(changed["old_sha256"], changed["new_sha256"]);
    // The route lines come before the swap; the status shows the new version once it ends.
    server.wait_for_line(|line| line.contains("configuration reloaded"));
    assert_eq!(changed["new_sha256"], sha256().as_str());

    // A reload that changes no rule names none.
    server.signal("HUP");
    let cause = server.wait_for_line(|line| line.contains("reloading the configuration"));
    assert!(cause.contains("\"cause\":\"SIGHUP\""), "{cause}");
    server.wait_for_line(|line| line.contains("configuration reloaded"));
    let log = server.stop();
    assert_eq!(
        log.matches("route serves a new rule version").count(),
        1,
        "{log}"
    );
}

#[tokio::test]
async fn config_edits_add_and_remove_tenants_and_a_broken_tenant_keeps_serving() {
    let dir = folder("tenants");
    std::fs::write(dir.join("a.wasm"), rule_bytes("email_domain")).unwrap();
    std::fs::write(dir.join("b.wasm"), rule_bytes("employee_number")).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, tenant("t", "a.wasm")).unwrap();
    let server = TestServer::start(&config).await;
    assert_eq!(server.hook("/hooks/u", &call()).await.status, 404);

    replace_by_rename(
        &config,
        format!("{}{}", tenant("t", "a.wasm"), tenant("u", "b.wasm")).as_bytes(),
    );
    until(&server, "u", is_rule_b).await;

    // Tenant t's definition breaks while u changes rule: u moves on, t keeps its last good version.
    let broken_t =
        tenant("t", "a.wasm").replace(&format!("secrets = [\"{}\"]", AUTH.1), "secrets = []");
    replace_by_rename(
        &config,
        format!("{broken_t}{}", tenant("u", "a.wasm")).as_bytes(),
    );
    until(&server, "u", is_rule_a).await;
    assert!(is_rule_a(&server.hook("/hooks/t", &call()).await));
    let status = server.get("/readyz").await.json();
    assert!(
        status["tenants"]["t"]["error"]
            .as_str()
            .unwrap()
            .contains("auth.secrets"),
        "{status}"
    );

    replace_by_rename(&config, tenant("u", "a.wasm").as_bytes());
    until(&server, "t", |reply| reply.status == 404).await;
    assert!(is_rule_a(&server.hook("/hooks/u", &call()).await));
}

#[tokio::test]
async fn a_kubernetes_configmap_symlink_swap_reloads() {
    // The layout the kubelet writes: versioned folders, `..data` pointing at the current one, and
    // the visible files as symlinks through `..data`. An update swaps `..data` atomically.
    let dir = folder("configmap");
    let version = |name: &str, rule_name: &str| {
        let version = dir.join(name);
        std::fs::create_dir(&version).unwrap();
        std::fs::write(version.join("rule.wasm"), rule_bytes(rule_name)).unwrap();
        std::fs::write(version.join("config.toml"), tenant("t", "rule.wasm")).unwrap();
    };
    version("..2026_11_21_10_00_00.1", "email_domain");
    std::os::unix::fs::symlink("..2026_11_21_10_00_00.1", dir.join("..data")).unwrap();
    for file in ["config.toml", "rule.wasm"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), dir.join(file)).unwrap();
    }
    let server = TestServer::start(&dir.join("config.toml")).await;
    assert!(is_rule_a(&server.hook("/hooks/t", &call()).await));

    version("..2026_11_21_10_05_00.2", "employee_number");
    std::os::unix::fs::symlink("..2026_11_21_10_05_00.2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    let took = until(&server, "t", is_rule_b).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Clients call continuously while the rule file flips between two versions 100 times: every
/// call is answered, by one version or the other, and the flips are really served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_swaps_under_load_drop_no_call() {
    let dir = folder("swaps");
    let (a, b) = (rule_bytes("email_domain"), rule_bytes("employee_number"));
    std::fs::write(dir.join("rule.wasm"), &a).unwrap();
    std::fs::write(dir.join("config.toml"), tenant("t", "rule.wasm")).unwrap();
    let server = std::sync::Arc::new(TestServer::start(&dir.join("config.toml")).await);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (server, stop) = (server.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut seen_a, mut seen_b) = (0, 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let reply = server.hook("/hooks/t", &call()).await;
                    match (is_rule_a(&reply), is_rule_b(&reply)) {
                        (true, _) => seen_a += 1,
                        (_, true) => seen_b += 1,
                        _ => panic!("an answer from neither version: {reply:?}"),
                    }
                }
                (seen_a, seen_b)
            })
        })
        .collect();
    for swap in 0..100 {
        replace_by_rename(&dir.join("rule.wasm"), if swap % 2 == 0 { &b } else { &a });
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut seen_a, mut seen_b) = (0, 0);
    for client in clients {
        let (a, b) = client.await.unwrap();
        (seen_a, seen_b) = (seen_a + a, seen_b + b);
    }
    assert!(
        seen_a > 100 && seen_b > 100,
        "answers: {seen_a} from A, {seen_b} from B"
    );
    let metrics = server.get("/metrics").await.body;
    let reloads: u32 = metrics
        .lines()
        .find_map(|line| line.strip_prefix(r#"wasmhook_reloads_total{outcome="ok"} "#))
        .expect("a reload counter")
        .parse()
        .unwrap();
    assert!(reloads >= 50, "only {reloads} reloads for 100 swaps");
}
