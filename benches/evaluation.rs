//! Isolated evaluation, exactly as the server does it (fresh store and instance per call), and
//! where the time goes. Needs the rules built (`make rules`). Run from the repository root:
//!
//!     cargo bench -p wasmhook --bench evaluation
//!
//! Each phase is the mean over the measured calls; p50 and p99 are per call, from parsing the
//! Okta payload to the rendered answer. "call" is the guest's export call (arguments lowered
//! into the guest, the rule, its decision lifted back); "guest start-up" is the part of it that
//! a second call in the same instance does not repeat.

mod proc_stat;

use std::path::Path;
use std::time::{Duration, Instant};

use wasmhook::hooks::{self, HookType};
use wasmhook::okta::HookCall;
use wasmhook::runtime::outbound::Grant;
use wasmhook::runtime::{Limits, Runtime};

// The allocator the server uses (see host/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REQUEST: &str = include_str!("../tests/fixtures/okta/registration-ssr-oie.json");
const SETTINGS: &str = r#"{"allowed_domains":["example.com"]}"#;

/// Rule, its build under rules/target, and how many calls to measure.
const RULES: [(&str, &str, usize); 4] = [
    ("Rust", "wasm32-wasip2/release/email_domain.wasm", 20_000),
    ("C", "c/email_domain.wasm", 20_000),
    (
        "JavaScript (QuickJS)",
        "javascript/email_domain.wasm",
        3_000,
    ),
    ("Python", "python/email_domain.wasm", 1_000),
];

#[derive(Default)]
struct Phases {
    parse: Duration,
    store: Duration,
    instantiate: Duration,
    call: Duration,
    release: Duration,
    render: Duration,
    fuel: u64,
    page_faults: u64,
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let runtime = Runtime::new(wasmhook::config::default_cache_dir().as_deref()).unwrap();
    let executor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let limits = Limits::default();
    println!(
        "| rule (isolated evaluation, fresh instance) | p50 | p99 | parse + request | store + WASI | instantiate | call | release slot | render | of the call: guest start-up | fuel | page faults |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    // `cargo bench --bench evaluation -- Rust` measures only the rules whose name contains "Rust".
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for (name, path, calls) in RULES {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let path = root.join("rules/target").join(path);
        let rule = runtime
            .load(&path, limits.max_module_bytes)
            .unwrap_or_else(|e| panic!("{e} (build the rules with `make rules`)"));
        let share = std::sync::Arc::new(wasmhook::scheduler::Share::new(1));
        let route = wasmhook::scheduler::RouteUsage::default();
        let (mut totals, phases) = executor.block_on(async {
            let mut totals = Vec::with_capacity(calls);
            let mut phases = Phases::default();
            let no_grant = std::sync::Arc::new(Grant::default());
            let mut faults_before = 0;
            for i in 0..calls + calls / 10 {
                if i == calls / 10 {
                    faults_before = proc_stat::minor_page_faults();
                }
                let started = Instant::now();
                let call = HookCall::parse(REQUEST.as_bytes()).unwrap();
                let request = HookType::Registration.request(&call, SETTINGS).unwrap();
                let asked = request.asked();
                let parsed = Instant::now();
                let deadline = started + limits.deadline;
                let account = (&share, &route);
                let (decision, usage) = runtime
                    .evaluate(&rule, request, &limits, &no_grant, deadline, account)
                    .await;
                let evaluated = Instant::now();
                hooks::render(decision.unwrap(), asked, limits.max_response_bytes).unwrap();
                let rendered = Instant::now();
                if i < calls / 10 {
                    continue; // warm-up
                }
                totals.push(rendered - started);
                phases.parse += parsed - started;
                phases.store += usage.store;
                phases.instantiate += usage.instantiate;
                phases.call += usage.elapsed - usage.store - usage.instantiate - usage.release;
                phases.release += usage.release;
                phases.render += rendered - evaluated;
                phases.fuel = usage.fuel;
            }
            phases.page_faults = proc_stat::minor_page_faults() - faults_before;
            (totals, phases)
        });
        // The guest's start-up runs inside its first call: compare with a second call in the
        // same instance (which the server never makes).
        let start_up = executor.block_on(async {
            let call = HookCall::parse(REQUEST.as_bytes()).unwrap();
            let request = HookType::Registration.request(&call, SETTINGS).unwrap();
            let mut difference = Duration::ZERO;
            for _ in 0..calls / 10 {
                let [first, second] = runtime
                    .time_two_calls_in_one_instance(&rule, &request, &limits)
                    .await
                    .unwrap();
                difference += first.saturating_sub(second);
            }
            difference / (calls / 10) as u32
        });
        totals.sort();
        let mean = |d: Duration| micros(d / calls as u32);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            micros(totals[totals.len() / 2]),
            micros(totals[totals.len() * 99 / 100]),
            mean(phases.parse),
            mean(phases.store),
            mean(phases.instantiate),
            mean(phases.call),
            mean(phases.release),
            mean(phases.render),
            micros(start_up),
            phases.fuel,
            phases.page_faults as f64 / calls as f64,
        );
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
