//! One hook call end to end, independent of HTTP and of the hook type: parse, route, admit,
//! evaluate in the sandbox, render, or answer with the failure policy.
//!
//! The server and the offline tools (`wasmhook eval`, `wasmhook test`, through [`preview`]) share
//! [`evaluate`] and [`hooks::failure_answer`], so a preview answers exactly as the server would.
//! A route's shadow rule is evaluated after the answer, in [`shadow`].

pub mod shadow;

use std::sync::Arc;
use std::time::Instant;

use tracing::Span;

use crate::decisions::{Decision, DecisionLog};
use crate::hooks::{self, HookType};
use crate::metrics::Metrics;
use crate::okta::{Answer, HookCall, ParseError};
use crate::routing::Unrouted;
use crate::runtime::outbound::Grant;
use crate::runtime::{CompiledRule, Limits, RuleFailure, Runtime, Usage, acquire_by};
use crate::scheduler::{RouteUsage, Share};
use crate::tenant::breaker::Outcome;
use crate::tenant::{Route, Tenant};

/// Answers one inline hook call of `tenant`: a rule that fails, or a call no rule handles, is
/// answered by the failure policy, logged, counted and (with a decision log) recorded.
pub async fn answer(
    runtime: &Runtime,
    metrics: &Metrics,
    shadows: &shadow::Budget,
    decisions: Option<&DecisionLog>,
    tenant: &Tenant,
    call: HookCall,
) -> Answer {
    let started = Instant::now();
    let span = Span::current();
    span.record("event_id", call.envelope.event_id.as_str());
    span.record("hook", call.envelope.event_type.as_str());
    let event_type = call.envelope.event_type.as_str();

    let (answer, route, failure, fuel) = match tenant.routes.route(&call) {
        Err(unrouted) => {
            tracing::warn!(reason = %unrouted, "no rule for this call; answering with the hook type's failure policy");
            metrics.unrouted(&tenant.id);
            let answer = hooks::failure_answer(event_type, None);
            (answer, None, Some("unrouted"), None)
        }
        Ok((route, hook)) => {
            span.record("rule", route.rule_name.as_str());
            let (outcome, fuel) = run(runtime, tenant, route, &call, hook, started).await;
            let failure = outcome.as_ref().err().map(RuleFailure::kind);
            let answer = outcome.unwrap_or_else(|failure| {
                if matches!(
                    failure,
                    RuleFailure::Throttled | RuleFailure::CircuitOpen | RuleFailure::Concurrency(_)
                ) {
                    // Load shedding, not a rule failure of this call: one line a second at
                    // most, with the calls turned away since the last one.
                    if let Some(calls) = route.not_run_line.occurred() {
                        tracing::warn!(kind = failure.kind(), reason = %failure, calls, "not run; answering with the route's failure policy");
                    }
                } else {
                    tracing::error!(kind = failure.kind(), error = %failure, "rule failed; answering with the route's failure policy");
                }
                metrics.rule_failure(&tenant.id, &route.rule_name, failure.kind());
                hooks::failure_answer(event_type, Some(route.on_failure))
            });
            if let Some(shadow) = &route.shadow {
                let comparison = shadow::Comparison {
                    shadow: shadow.clone(),
                    hook,
                    limits: route.limits.clone(),
                    tenant: tenant.id.clone(),
                    live_rule: route.rule_name.clone(),
                };
                shadows.start(runtime, comparison, &call, &answer);
            }
            (answer, Some(route), failure, fuel)
        }
    };
    span.record("decision", answer.label());
    let elapsed = started.elapsed();
    metrics.answer(&tenant.id, answer.label(), elapsed.as_secs_f64());
    if let Some(decisions) = decisions {
        let label = route.map(Route::label);
        decisions.record(&Decision {
            tenant: &tenant.id,
            event_id: &call.envelope.event_id,
            hook: event_type,
            route: label.as_deref(),
            rule: route.map(|route| route.rule_name.as_str()),
            rule_sha256: route.map(|route| route.rule.sha256.as_str()),
            decision: answer.label(),
            failure,
            duration_us: elapsed.as_micros() as u64,
            fuel,
        });
    }
    answer
}

/// Runs `route`'s rule on `call` for `tenant`, unless its circuit breaker is open or the
/// tenant's share of the CPU cannot finish it in time, and records the outcome for the breaker.
async fn run(
    runtime: &Runtime,
    tenant: &Tenant,
    route: &Route,
    call: &HookCall,
    hook: HookType,
    started: Instant,
) -> (Result<Answer, RuleFailure>, Option<u64>) {
    // The deadline bounds the whole call: waiting for the route's turn, the tenant's share,
    // pool slots and the CPU counts against it, so the answer is never later than the route
    // allows.
    let deadline = started + route.limits.deadline;
    let pass = match route.breaker.enter(deadline).await {
        Ok(pass) => pass,
        Err(not_run) => return (Err(not_run), None),
    };
    let time_left = deadline.saturating_duration_since(Instant::now());
    let Ok(_admitted) = runtime
        .scheduler()
        .admit(&tenant.share, &route.usage, time_left)
    else {
        return (Err(RuleFailure::Throttled), None);
    };
    let Some(_permit) = acquire_by(&tenant.evaluations, 1, deadline).await else {
        let failure = "the tenant's evaluations stayed busy until the deadline";
        return (Err(RuleFailure::Concurrency(failure)), None);
    };
    let job = Job::of_route(tenant, route);
    let (outcome, usage) = evaluate(runtime, &job, call, hook, deadline).await;
    let fuel = (!usage.stopped_by_deadline).then_some(usage.fuel);
    if let Some(fuel) = fuel {
        Span::current().record("fuel", fuel);
    }
    // A deadline that came while the rule waited for the CPU is the machine's load, not the
    // rule's fault: it must not open the breaker.
    let breaker_outcome = match &outcome {
        Ok(_) => Outcome::Success,
        Err(RuleFailure::Deadline(_)) if usage.stopped_while_waiting => Outcome::CheapFailure,
        Err(
            RuleFailure::Deadline(_)
            | RuleFailure::MemoryCap(_)
            | RuleFailure::Fuel(_)
            | RuleFailure::Trap(_),
        ) => Outcome::ExpensiveFailure,
        Err(_) => Outcome::CheapFailure,
    };
    route.breaker.record(breaker_outcome, pass.probe);
    route.usage.set_demoted(route.breaker.failing());
    (outcome, fuel)
}

/// What an evaluation runs: a rule with its route's settings, limits and outbound grant, and who
/// is charged for the CPU it uses.
pub struct Job<'a> {
    pub rule: &'a CompiledRule,
    pub settings: &'a str,
    pub limits: &'a Limits,
    pub outbound: &'a Arc<Grant>,
    pub share: &'a Arc<Share>,
    pub usage: &'a RouteUsage,
}

impl<'a> Job<'a> {
    /// `route`'s rule as the server runs it for `tenant`: the route's settings, limits and
    /// grant, charged to the tenant's share and the route's usage.
    pub fn of_route(tenant: &'a Tenant, route: &'a Route) -> Job<'a> {
        Job {
            rule: &route.rule,
            settings: &route.settings,
            limits: &route.limits,
            outbound: &route.outbound,
            share: &tenant.share,
            usage: &route.usage,
        }
    }
}

/// Runs `job` on `call`, a call of `hook` (the rule's hook type), and renders its decision as
/// Okta's answer by `deadline`; also returns what the evaluation consumed.
pub async fn evaluate(
    runtime: &Runtime,
    job: &Job<'_>,
    call: &HookCall,
    hook: HookType,
    deadline: Instant,
) -> (Result<Answer, RuleFailure>, Usage) {
    let request = match hook.request(call, job.settings) {
        Ok(request) => request,
        // Routing has refused such calls already; `eval` checks them first, too.
        Err(unrouted) => {
            let failure =
                RuleFailure::InvalidDecision(format!("not a call for the rule: {unrouted}"));
            return (Err(failure), Usage::default());
        }
    };
    let asked = request.asked();
    let secrets = request.secrets();
    let account = (job.share, job.usage);
    let (decision, usage) = runtime
        .evaluate(
            job.rule,
            request,
            job.limits,
            job.outbound,
            deadline,
            account,
        )
        .await;
    let max_bytes = job.limits.max_response_bytes;
    let answer = decision.and_then(|mut decision| {
        if decision.withhold(&secrets) {
            tracing::warn!(
                "the rule's answer repeats a secret of the call: masked, or its debugContext not sent"
            );
        }
        Ok(hooks::render(decision, asked, max_bytes)?)
    });
    (answer, usage)
}

/// Why [`preview`] could not run the rule on a request at all.
#[derive(Debug, thiserror::Error)]
pub enum NotPreviewed {
    #[error("the request is not an Okta hook call: {0}")]
    NotACall(#[from] ParseError),
    #[error(
        "this is a {hook} rule, for `{}` calls; the request is a `{event_type}` call",
        hook.event_type()
    )]
    OtherHook { hook: HookType, event_type: String },
    /// The server answers such a call with the hook type's failure policy without running a rule.
    #[error("{0}: the server answers with the failure policy, without running a rule")]
    Unrouted(Unrouted),
}

/// Runs `rule` offline on the request `body`, with `settings`, under `limits` and with the
/// `outbound` grant, exactly as the server would for a route with that rule: the evaluation's
/// outcome and what it consumed.
pub async fn preview(
    runtime: &Runtime,
    rule: &CompiledRule,
    body: &[u8],
    (settings, limits, outbound): (&str, &Limits, &Arc<Grant>),
) -> Result<(Result<Answer, RuleFailure>, Usage), NotPreviewed> {
    let call = HookCall::parse(body)?;
    let hook = rule.hook;
    let event_type = call.envelope.event_type.as_str();
    if event_type != hook.event_type() {
        let event_type = event_type.to_owned();
        return Err(NotPreviewed::OtherHook { hook, event_type });
    }
    hook.routed_request_type(&call)
        .map_err(NotPreviewed::Unrouted)?;
    let job = Job {
        rule,
        settings,
        limits,
        outbound,
        share: &Arc::new(Share::new(1)),
        usage: &RouteUsage::default(),
    };
    let deadline = Instant::now() + limits.deadline;
    Ok(evaluate(runtime, &job, &call, hook, deadline).await)
}
