//! Shadow rollout: a route may name a candidate rule (`shadow_rule`) that runs on every call
//! beside the live rule, so an author can see how a new version would have answered real
//! traffic before it answers any.
//!
//! The candidate never touches the answer. It starts only once the live answer is decided, in
//! its own task, under the route's limits, and it is bounded so that it can neither slow nor
//! fail a live call:
//! - at most [`CONCURRENT`] shadow evaluations run at once in the process; a call that finds
//!   them all busy skips its shadow (counted as `skipped`) instead of queueing;
//! - all shadow evaluations share one CPU share of weight 1 in the scheduler, so when the
//!   machine is busy they get a small slice beside the tenants, never a tenant's share, and a
//!   shadow that loops to its deadline is charged to that share alone;
//! - their failures do not feed the route's circuit breaker;
//! - they reach no network, whatever the route grants: a shadow's requests would repeat the
//!   live rule's side effects (a second text message), so each is refused.
//!
//! Each comparison is counted (`agree`, `diverge`, `failed`, `skipped`), and each divergence
//! is logged with the call's eventId and both answers' kinds, never a body: bodies carry
//! profile values.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Semaphore;

use super::{Job, evaluate};
use crate::hooks::HookType;
use crate::okta::{Answer, HookCall};
use crate::runtime::outbound::Grant;
use crate::runtime::{CompiledRule, Limits, Runtime};
use crate::scheduler::{RouteUsage, Share};

/// Most shadow evaluations running at once in the process.
pub const CONCURRENT: usize = 4;

/// The process-wide bound on shadow evaluations and the CPU share they run under.
pub struct Budget {
    running: Arc<Semaphore>,
    share: Arc<Share>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            running: Arc::new(Semaphore::new(CONCURRENT)),
            share: Arc::new(Share::new(1)),
        }
    }
}

/// A route's shadow rule, loaded, with what it used and how its answers compared.
pub struct Shadow {
    pub rule: Arc<CompiledRule>,
    pub rule_source: crate::config::RuleSource,
    pub rule_digest: Option<String>,
    pub rule_name: String,
    /// Its settings as JSON text.
    pub settings: String,
    pub usage: RouteUsage,
    pub tally: Tally,
}

/// How a route's shadow evaluations compared with the live answers.
#[derive(Default)]
pub struct Tally {
    agree: AtomicU64,
    diverge: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

impl Tally {
    /// `(outcome, count)` for each outcome, for the metrics.
    pub fn counts(&self) -> [(&'static str, u64); 4] {
        [
            ("agree", self.agree.load(Ordering::Relaxed)),
            ("diverge", self.diverge.load(Ordering::Relaxed)),
            ("failed", self.failed.load(Ordering::Relaxed)),
            ("skipped", self.skipped.load(Ordering::Relaxed)),
        ]
    }

    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the shadow of one call needs, owned, so that it can run after the answer is sent.
pub struct Comparison {
    pub shadow: Arc<Shadow>,
    pub hook: HookType,
    pub limits: Limits,
    pub tenant: String,
    pub live_rule: String,
}

impl Budget {
    /// Evaluates `comparison.shadow` on `call` in its own task, if the budget allows, and
    /// compares its answer with `live`. Returns at once.
    pub fn start(&self, runtime: &Runtime, comparison: Comparison, call: &HookCall, live: &Answer) {
        let Ok(permit) = self.running.clone().try_acquire_owned() else {
            Tally::add(&comparison.shadow.tally.skipped);
            return;
        };
        let runtime = runtime.clone();
        let share = self.share.clone();
        let call = call.clone();
        let live = live.clone();
        tokio::spawn(async move {
            let _permit = permit;
            // Let the live answer's task write its response first.
            tokio::task::yield_now().await;
            comparison.run(&runtime, &share, &call, &live).await;
        });
    }
}

impl Comparison {
    async fn run(&self, runtime: &Runtime, share: &Arc<Share>, call: &HookCall, live: &Answer) {
        let shadow = &self.shadow;
        let deadline = Instant::now() + self.limits.deadline;
        let Ok(_admitted) = runtime
            .scheduler()
            .admit(share, &shadow.usage, self.limits.deadline)
        else {
            Tally::add(&shadow.tally.skipped);
            return;
        };
        let job = Job {
            rule: &shadow.rule,
            settings: &shadow.settings,
            limits: &self.limits,
            outbound: &Arc::new(Grant::default()),
            share,
            usage: &shadow.usage,
        };
        let (outcome, _) = evaluate(runtime, &job, call, self.hook, deadline).await;
        let event_id = call.envelope.event_id.as_str();
        let (tenant, rule, shadow_rule) = (&self.tenant, &self.live_rule, &shadow.rule_name);
        match outcome {
            Ok(answer) if answer == *live => Tally::add(&shadow.tally.agree),
            Ok(answer) => {
                Tally::add(&shadow.tally.diverge);
                tracing::warn!(
                    tenant,
                    event_id,
                    rule,
                    shadow_rule,
                    live = live.label(),
                    shadow = answer.label(),
                    "the shadow rule answered differently"
                );
            }
            Err(failure) => {
                Tally::add(&shadow.tally.failed);
                tracing::warn!(
                    tenant, event_id, rule, shadow_rule,
                    live = live.label(), kind = failure.kind(), error = %failure,
                    "the shadow rule failed"
                );
            }
        }
    }
}
