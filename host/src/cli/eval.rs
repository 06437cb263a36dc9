//! `wasmhook eval`: one rule on one captured request, offline, answering exactly as the server
//! would (the same evaluation and failure answer, see [`crate::hook`]).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use crate::hooks;
use crate::okta::{Answer, HookCall};
use crate::runtime::{Limits, Runtime};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The rule component (.wasm).
    #[arg(long)]
    rule: PathBuf,
    /// The Okta request body: a JSON file, or `-` for stdin.
    #[arg(long)]
    request: String,
    /// The route settings: inline JSON, or `@file`.
    #[arg(long)]
    settings: Option<String>,
    /// Deadline for the rule, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    deadline_ms: u64,
    /// Linear memory cap for the rule, in MiB.
    #[arg(long, default_value_t = 64)]
    max_memory_mb: usize,
    /// Instruction budget (wasmtime fuel); unlimited by default. The fuel used is always reported.
    #[arg(long)]
    fuel: Option<u64>,
}

pub async fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let runtime = Runtime::new(crate::config::default_cache_dir().as_deref())?.with_precise_fuel();
    let rule = runtime.load(&args.rule, Limits::default().max_module_bytes)?;
    let body = read_request(&args.request)?;
    let settings = read_settings(args.settings.as_deref())?;
    let limits = Limits {
        deadline: Duration::from_millis(args.deadline_ms),
        max_memory_bytes: args.max_memory_mb << 20,
        fuel: args.fuel,
        ..Limits::default()
    };
    let call = HookCall::parse(&body).context("the request is not an Okta hook call")?;
    let event_type = call.envelope.event_type.as_str();
    let hook = rule.hook;
    if event_type != hook.event_type() {
        bail!(
            "this is a {hook} rule, for `{}` calls; the request is a `{event_type}` call",
            hook.event_type()
        );
    }
    if let Err(unrouted) = hook.routed_request_type(&call) {
        eprintln!("{unrouted}: the server answers with the failure policy, without running a rule");
        return print_answer(hooks::failure_answer(event_type, None), None);
    }
    let deadline = Instant::now() + limits.deadline;
    let job = crate::hook::Job {
        rule: &rule,
        settings: &settings,
        limits: &limits,
        share: &Arc::new(crate::scheduler::Share::new(1)),
        usage: &crate::scheduler::RouteUsage::default(),
    };
    let (answer, usage) = crate::hook::evaluate(&runtime, &job, &call, hook, deadline).await;
    let usage = format!(
        "in {:.2} ms, fuel {}{}",
        usage.elapsed.as_secs_f64() * 1e3,
        if usage.stopped_by_deadline {
            "at least "
        } else {
            ""
        },
        usage.fuel
    );
    match answer {
        Ok(answer) => print_answer(answer, Some(usage)),
        Err(failure) => {
            let answer = hooks::failure_answer(event_type, None);
            bail!(
                "the rule failed ({}): {failure} ({usage})\nthe server would answer with the \
                 route's failure policy; by default ({}) that is {}",
                failure.kind(),
                hook.default_policy().name(),
                answer.body().unwrap_or("204 No Content")
            )
        }
    }
}

/// Prints exactly the body the server would send (nothing for 204) and a summary on stderr.
fn print_answer(answer: Answer, usage: Option<String>) -> anyhow::Result<()> {
    let took = usage.map(|usage| format!(" {usage}")).unwrap_or_default();
    let label = answer.label();
    match answer.body() {
        None => eprintln!("204 No Content ({label}){took}"),
        Some(body) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(body.as_bytes())?;
            stdout.flush()?;
            eprintln!("200 OK ({label}){took}");
        }
    }
    Ok(())
}

fn read_request(source: &str) -> anyhow::Result<Vec<u8>> {
    if source == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read the request from stdin")?;
        return Ok(body);
    }
    std::fs::read(source).with_context(|| format!("cannot read the request {source}"))
}

/// Settings as compact JSON text; they must be a JSON object, as they are in a config file.
fn read_settings(settings: Option<&str>) -> anyhow::Result<String> {
    let text = match settings {
        None => return Ok("{}".into()),
        Some(path) if path.starts_with('@') => std::fs::read_to_string(&path[1..])
            .with_context(|| format!("cannot read the settings file {}", &path[1..]))?,
        Some(inline) => inline.to_owned(),
    };
    match serde_json::from_str(&text).context("the settings are not valid JSON")? {
        serde_json::Value::Object(object) => Ok(serde_json::Value::Object(object).to_string()),
        _ => bail!("the settings must be a JSON object"),
    }
}
