//! One hook call end to end, independent of HTTP: parse, route, evaluate in the sandbox, render.
//!
//! The server and `wasmhook eval` share [`evaluate`], so the offline preview answers exactly as
//! the server would.

use std::time::Instant;

use tracing::Span;

use crate::metrics::Metrics;
use crate::okta::response::render_registration;
use crate::okta::{Answer, FailurePolicy, HookCall, ParseError};
use crate::runtime::{CompiledRule, Flow, Limits, RuleFailure, Runtime, Usage};
use crate::tenant::Tenant;

/// Answers one call of `tenant`. Only an unparsable body is an error (answered with 400); a rule
/// that fails, or a call no rule handles, is answered by the failure policy, logged and counted.
pub async fn answer(
    runtime: &Runtime,
    metrics: &Metrics,
    tenant: &Tenant,
    body: &[u8],
) -> Result<Answer, ParseError> {
    let call = HookCall::parse(body)?;
    let started = Instant::now();
    let span = Span::current();
    span.record("event_id", call.envelope.event_id.as_str());
    span.record("hook", call.envelope.event_type.as_str());
    let event_type = call.envelope.event_type.as_str();

    let answer = match tenant.routes.route(&call) {
        Err(unrouted) => {
            tracing::warn!(reason = %unrouted, "no rule for this call; answering with the hook type's failure policy");
            metrics.unrouted(&tenant.id);
            FailurePolicy::default_for(event_type).answer(event_type)
        }
        Ok((route, flow)) => {
            span.record("rule", route.rule_name.as_str());
            // The deadline bounds the whole call: waiting for the tenant's turn and for pool
            // slots counts against it, so the answer is never later than the route allows.
            let deadline = started + route.limits.deadline;
            let permit = tokio::time::timeout_at(deadline.into(), tenant.evaluations.acquire());
            let outcome = match permit.await {
                Err(_) | Ok(Err(_)) => Err(RuleFailure::Concurrency(
                    "the tenant's evaluations stayed busy until the deadline",
                )),
                Ok(Ok(_permit)) => {
                    let (outcome, usage) = evaluate(
                        runtime,
                        &route.rule,
                        &route.settings,
                        &route.limits,
                        &call,
                        flow,
                        deadline,
                    )
                    .await;
                    if !usage.stopped_by_deadline {
                        span.record("fuel", usage.fuel);
                    }
                    outcome
                }
            };
            outcome.unwrap_or_else(|failure| {
                tracing::error!(kind = failure.kind(), error = %failure, "rule failed; answering with the route's failure policy");
                metrics.rule_failure(&tenant.id, &route.rule_name, failure.kind());
                route.on_failure.answer(event_type)
            })
        }
    };
    span.record("decision", answer.label());
    metrics.answer(&tenant.id, answer.label(), started.elapsed().as_secs_f64());
    Ok(answer)
}

/// Runs a registration `rule` on `call` and renders its decision as Okta's answer by
/// `deadline`; also returns what the evaluation consumed.
pub async fn evaluate(
    runtime: &Runtime,
    rule: &CompiledRule,
    settings: &str,
    limits: &Limits,
    call: &HookCall,
    flow: Flow,
    deadline: Instant,
) -> (Result<Answer, RuleFailure>, Usage) {
    let request = call.registration_request(flow, settings);
    let (decision, usage) = runtime.evaluate(rule, &request, limits, deadline).await;
    let answer = decision.and_then(|d| render_registration(d, flow, limits.max_response_bytes));
    (answer, usage)
}
