//! `wasmhook eval`: one rule on one captured request, offline, answering exactly as the server
//! would (the same evaluation and failure answer, through [`crate::hook::preview`]).
//!
//! stdout holds exactly the body the server would send (nothing for 204; a newline after it only
//! on a terminal, so that a pipe gets the body byte for byte). stderr holds the rest: the rule's
//! own log lines, and a summary with the status, the decision and what the evaluation used
//! (time, fuel, memory). With `--config` and `--tenant`, the rule, settings, limits and failure
//! policy are the route's, chosen as the server chooses it (or by `--route`).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::config::{Config, RouteConfig, RuleSource, TenantConfig};
use crate::events;
use crate::hook::{Job, NotPreviewed, preview};
use crate::hooks::{self, HookType, event};
use crate::okta::{Answer, HookCall};
use crate::registry::Registry;
use crate::routing::RouteTable;
use crate::runtime::outbound::{Grant, Origin};
use crate::runtime::{CompiledRule, Limits, Runtime, Usage};
use crate::scheduler::{RouteUsage, Share};
use crate::untrusted::GuestText;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).multiple(true).args(["rule", "config"]))]
pub struct EvalArgs {
    /// The rule component: a .wasm file, or an `oci://` reference pulled as the server would;
    /// with `--config`, replaces the route's rule.
    #[arg(long)]
    rule: Option<String>,
    /// The Okta request body: a JSON file, or `-` for stdin.
    #[arg(long)]
    request: String,
    /// The route settings: inline JSON, or `@file`; with `--config`, replace the route's.
    #[arg(long)]
    settings: Option<String>,
    /// Take the rule, settings, limits and failure policy from a route of this config file, and
    /// pull and compile rules through its `cache_dir`, as the server does.
    #[arg(long, requires = "tenant")]
    config: Option<PathBuf>,
    /// The tenant of `--config` whose route answers the request.
    #[arg(long, requires = "config")]
    tenant: Option<String>,
    /// The route (its index in the tenant's `routes`, from 0); by default the one the server
    /// would choose for the request.
    #[arg(long, requires = "config")]
    route: Option<usize>,
    /// Deadline for the rule, in milliseconds [default: the route's, or 1000].
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Linear memory cap for the rule, in MiB [default: the route's, or 64].
    #[arg(long)]
    max_memory_mb: Option<usize>,
    /// Instruction budget (wasmtime fuel) [default: the route's, or unlimited]. The fuel used is
    /// always reported.
    #[arg(long)]
    fuel: Option<u64>,
    /// Lets the rule reach this origin over HTTP, as a route's `allowed_outbound_hosts` does
    /// (`https://host[:port]`, `http://127.0.0.1:port`); repeatable, added to the route's.
    #[arg(long = "allow-outbound-host", value_name = "ORIGIN")]
    allowed_outbound_hosts: Vec<String>,
}

pub async fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let body = read_request(&args.request)?;
    // With a config, rules are pulled and compiled through its cache, as the server does: a rule
    // the server has pulled is tried as stored, even with the registry out of reach.
    let (route, cache) = match (&args.config, &args.tenant) {
        (Some(config), Some(tenant)) => {
            let (route, cache) = route_of(config, tenant, args.route, &body)?;
            (Some(route), cache)
        }
        _ => (None, crate::config::default_cache_dir()),
    };
    let rule_source = match (&args.rule, &route) {
        (Some(rule), _) => RuleSource::parse(rule, Path::new("")).map_err(anyhow::Error::msg)?,
        (None, Some(route)) => route.rule.clone(),
        (None, None) => bail!("give --rule, or --config and --tenant"),
    };
    let settings = match (&args.settings, &route) {
        (None, Some(route)) => route.settings.clone(),
        (settings, _) => read_settings(settings.as_deref())?,
    };
    let route_limits = route
        .as_ref()
        .map_or_else(Limits::default, |r| r.limits.clone());
    let limits = Limits {
        deadline: args
            .deadline_ms
            .map_or(route_limits.deadline, Duration::from_millis),
        max_memory_bytes: args
            .max_memory_mb
            .map_or(route_limits.max_memory_bytes, |mb| mb << 20),
        fuel: args.fuel.or(route_limits.fuel),
        ..route_limits
    };
    let policy = route.as_ref().map(|r| r.on_failure);
    let mut outbound = route
        .as_ref()
        .map_or_else(Grant::default, |r| r.outbound.clone());
    for host in &args.allowed_outbound_hosts {
        let origin =
            Origin::parse(host).map_err(|m| anyhow::anyhow!("--allow-outbound-host: {m}"))?;
        outbound.allow(origin);
    }
    let outbound = Arc::new(outbound);

    let runtime = Runtime::new(cache.as_deref())?.with_precise_fuel();
    let rule_file = Registry::new(cache.as_deref())
        .fetch(&rule_source, limits.max_module_bytes)
        .await?;
    let rule = runtime.load(&rule_file, limits.max_module_bytes)?;
    if let Err(refused) = runtime.validate_settings(&rule, &settings, &limits).await {
        bail!(
            "invalid settings ({}): {refused}\nthe server would not load a route with these \
             settings (`wasmhook check` refuses them)",
            refused.kind()
        );
    }
    if rule.hook == HookType::Event {
        let pattern = route.as_ref().and_then(|route| route.events.as_ref());
        let job = (settings.as_str(), &limits, &outbound);
        return eval_events(&runtime, &rule, pattern, &body, job).await;
    }
    let event_type = rule.hook.event_type();
    let (outcome, usage) =
        match preview(&runtime, &rule, &body, (&settings, &limits, &outbound)).await {
            Ok(evaluated) => evaluated,
            Err(NotPreviewed::Unrouted(unrouted)) => {
                eprintln!("{}", NotPreviewed::Unrouted(unrouted));
                return print_answer(hooks::failure_answer(event_type, policy), None);
            }
            Err(other) => return Err(other.into()),
        };
    let usage = describe(&usage);
    match outcome {
        Ok(answer) => print_answer(answer, Some(usage)),
        Err(failure) => {
            let policy = policy.unwrap_or_else(|| rule.hook.default_policy());
            let answer = hooks::failure_answer(event_type, Some(policy));
            bail!(
                "the rule failed ({}): {failure} ({usage})\nthe server would answer with the \
                 route's failure policy; {} that is {}",
                failure.kind(),
                match route {
                    Some(_) => format!("for this route ({})", policy.name()),
                    None => format!("by default ({})", policy.name()),
                },
                answer.body().unwrap_or("204 No Content")
            )
        }
    }
}

/// Runs an event rule on each event of the delivery `body` as the server's queue would on the
/// first attempt: stdout stays empty (the server answers the delivery with an empty 200 before
/// any rule runs), stderr has a line per event; fails if the rule failed on any event. With a
/// route's `pattern` (`--config`), events it does not match are skipped, as the server would
/// not give them to this rule.
async fn eval_events(
    runtime: &Runtime,
    rule: &Arc<CompiledRule>,
    pattern: Option<&event::EventPattern>,
    body: &[u8],
    (settings, limits, outbound): (&str, &Limits, &Arc<Grant>),
) -> anyhow::Result<()> {
    let call = HookCall::parse(body).context("the request is not an Okta hook call")?;
    if call.envelope.event_type != event::EVENT_TYPE {
        bail!(
            "this is an event rule, for `{}` deliveries; the request is a `{}` call",
            event::EVENT_TYPE,
            GuestText::new(&call.envelope.event_type, 128)
        );
    }
    let (delivery, events) =
        event::events(&call).context("the server would refuse this delivery with 400")?;
    let job = Job {
        rule,
        settings,
        limits,
        outbound,
        share: &Arc::new(Share::new(1)),
        usage: &RouteUsage::default(),
    };
    let mut failed = 0;
    for queued in &events {
        let event = format!("event {} ({})", queued.uuid, queued.event_type);
        if pattern.is_some_and(|pattern| !pattern.matches(&queued.event_type)) {
            eprintln!("{event}: not for this route; skipped");
            continue;
        }
        let (outcome, usage) = events::evaluate(runtime, &job, queued, &delivery, 1).await;
        match outcome {
            Ok(()) => eprintln!("{event}: handled {}", describe(&usage)),
            Err(failure) => {
                failed += 1;
                eprintln!(
                    "{event}: failed ({}): {failure} {}; the server would try it again later",
                    failure.kind(),
                    describe(&usage)
                );
            }
        }
    }
    eprintln!(
        "200 OK (acknowledged; {} events, {failed} failed)",
        events.len()
    );
    if failed > 0 {
        bail!("the rule failed on {failed} of {} events", events.len());
    }
    Ok(())
}

/// The route of `tenant` in `config` that answers `body` (the `index`th, or the one the server
/// would choose), and the config's cache.
fn route_of(
    config: &std::path::Path,
    tenant: &str,
    index: Option<usize>,
    body: &[u8],
) -> anyhow::Result<(RouteConfig, Option<PathBuf>)> {
    // Leniently: another tenant's mistake does not stop an author from trying this one.
    let config = Config::load_lenient(config, None)?;
    if let Some((_, error)) = config.invalid_tenants.iter().find(|(id, _)| id == tenant) {
        bail!("{error}");
    }
    let Some(found) = config.tenants.iter().find(|t| t.id == tenant) else {
        let known: Vec<_> = config.tenants.iter().map(|t| t.id.as_str()).collect();
        bail!(
            "{}: no tenant `{tenant}` (tenants: {})",
            config.file.display(),
            known.join(", ")
        );
    };
    let route = match index {
        Some(i) => found.routes.get(i).with_context(|| {
            format!(
                "tenant `{tenant}` has {} routes; --route counts from 0",
                found.routes.len()
            )
        })?,
        None => {
            let call = HookCall::parse(body).context("the request is not an Okta hook call")?;
            if call.envelope.event_type == event::EVENT_TYPE {
                &event_route_of(found, &call)?
            } else {
                let table = RouteTable::new(found.routes.iter().collect());
                let (route, _) = table.route(&call).map_err(|unrouted| {
                    anyhow::anyhow!("tenant `{tenant}` has no route for this request: {unrouted}")
                })?;
                *route
            }
        }
    };
    Ok((route.clone(), config.cache_dir.clone()))
}

/// The event route of `tenant` for the first event of the delivery `call`.
fn event_route_of(tenant: &TenantConfig, call: &HookCall) -> anyhow::Result<RouteConfig> {
    let (_, events) =
        event::events(call).context("the server would refuse this delivery with 400")?;
    let first = events.first().context("the delivery has no events")?;
    let routes = tenant.routes.iter();
    event::most_specific(
        routes.filter_map(|route| Some((route, route.events.as_ref()?))),
        &first.event_type,
    )
    .cloned()
    .with_context(|| {
        format!(
            "tenant `{}` has no event route for `{}` events",
            tenant.id, first.event_type
        )
    })
}

/// What an evaluation used, for the summary line.
fn describe(usage: &Usage) -> String {
    format!(
        "in {:.2} ms, fuel {}{}, memory {:.1} MiB",
        usage.elapsed.as_secs_f64() * 1e3,
        if usage.stopped_by_deadline {
            "at least "
        } else {
            ""
        },
        usage.fuel,
        usage.memory_bytes as f64 / f64::from(1 << 20)
    )
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
            if stdout.is_terminal() {
                stdout.write_all(b"\n")?;
            }
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
pub(super) fn read_settings(settings: Option<&str>) -> anyhow::Result<String> {
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
