//! Event hooks after Okta's `POST`: acknowledge a delivery only once its events are on disk, then
//! run each event's rule in the background, retrying failures with growing pauses and keeping
//! what still fails as a dead letter.
//!
//! Okta expects the answer at once, delivers at least once and retries a delivery only once, so
//! once the server has said 200 a lost event is the server's fault. Hence the order: parse and
//! route the delivery's events, write those with a route to the queue ([`queue`], a redb file)
//! in one durable commit, and only then answer 200; a full queue or a failed write is a 503, so
//! that Okta retries. A delivery id or event uuid already queued is acknowledged without queuing
//! it again.
//!
//! One worker task takes due events oldest first and runs up to `[events] concurrency` of them
//! at once, each in a fresh instance of its route's rule, with the route's limits and outbound
//! grant, charged to the tenant's CPU share like its inline calls. The route is looked up again
//! when the event runs, so a reload's new rule handles what is still queued. An event whose rule
//! fails (or whose route is gone) runs again after `retry_after`, doubling up to
//! `max_retry_after`; after `max_attempts` it moves to the dead letters, which the admin status
//! lists and a metric counts. A crash loses nothing acknowledged: on restart every pending event
//! is due at once, so one that was running when the process died runs again.

pub mod queue;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tracing::Instrument;

use crate::app::App;
use crate::config::{Config, EventsConfig};
use crate::decisions::Decision;
use crate::hook::Job;
use crate::hooks::{self, event};
use crate::okta::HookCall;
use crate::runtime::{RuleFailure, Runtime, Usage};
use crate::tenant::Tenant;
use queue::{Enqueued, NotQueued, Queue, Record, TenantQueue};

/// How long an event whose outcome could not be recorded waits before it runs again.
const UNSETTLED_PAUSE: Duration = Duration::from_secs(1);
/// How many dead letters the admin status lists (newest first).
const DEAD_LETTERS_SHOWN: usize = 20;

/// The event queue and the settings its worker runs by.
pub struct Events {
    queue: Arc<Queue>,
    /// The retry settings; a reload replaces them.
    config: ArcSwap<EventsConfig>,
    /// Wakes the worker: events were queued, or a running one finished.
    wake: Notify,
}

/// Why a delivery was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum NotAcknowledged {
    /// The delivery is malformed (400: Okta does not retry it, and logs the failure).
    #[error(transparent)]
    Invalid(#[from] event::DeliveryError),
    /// Not written (503: Okta retries once).
    #[error(transparent)]
    NotQueued(#[from] NotQueued),
    /// The tenant has event routes, but the queue could not be opened.
    #[error("the event queue is not open: {0}")]
    NoQueue(String),
}

/// The process's event queue, opened the first time a configuration has event routes.
#[derive(Default)]
pub struct EventQueue {
    events: OnceLock<Arc<Events>>,
    /// Why the queue could not be opened, for the status and the 503s.
    error: std::sync::Mutex<Option<String>>,
}

impl EventQueue {
    pub fn get(&self) -> Option<&Arc<Events>> {
        self.events.get()
    }

    fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Opens the queue and starts its worker once `config` has event routes (at start-up, or at the
/// first reload that adds some), and applies `config`'s retry settings. The queue's file cannot
/// move while the server runs.
pub fn configure(app: &Arc<App>, config: &Config) -> anyhow::Result<()> {
    let slot = &app.events;
    if let Some(events) = slot.get() {
        if config.events.queue.as_deref() != Some(events.queue.path()) {
            tracing::warn!("a new [events] queue takes effect at restart");
        }
        events.config.store(Arc::new(config.events.clone()));
        return Ok(());
    }
    if !config
        .tenants
        .iter()
        .any(|tenant| tenant.has_event_routes())
    {
        return Ok(());
    }
    let opened = config
        .events
        .queue
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("no folder for the event queue: set [events] queue (neither XDG_STATE_HOME nor HOME is set)"))
        .and_then(|path| {
            Queue::open(path).map_err(|e| anyhow::anyhow!("cannot open the event queue {}: {e}", path.display()))
        });
    let queue = match opened {
        Ok(queue) => queue,
        Err(error) => {
            *slot.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
            return Err(error);
        }
    };
    let pending: u64 = queue.per_tenant().values().map(|t| t.queued).sum();
    tracing::info!(queue = %queue.path().display(), pending, "event queue open");
    let events = Arc::new(Events {
        queue: Arc::new(queue),
        config: ArcSwap::from_pointee(config.events.clone()),
        wake: Notify::new(),
    });
    if slot.events.set(events.clone()).is_ok() {
        *slot.error.lock().unwrap_or_else(|e| e.into_inner()) = None;
        tokio::spawn(work(events, Arc::downgrade(app)));
    }
    Ok(())
}

/// Acknowledges `call`, an event hook delivery to `tenant`: its routed events are on disk when
/// this returns `Ok`.
pub async fn acknowledge(
    app: &App,
    tenant: &Tenant,
    call: &HookCall,
) -> Result<Enqueued, NotAcknowledged> {
    let (delivery, events) = event::events(call)?;
    let (routed, unrouted): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|event| tenant.event_route(&event.event_type).is_some());
    if !unrouted.is_empty() {
        tracing::warn!(
            events = unrouted.len(),
            "no event route for these events; acknowledged without running a rule"
        );
        app.metrics
            .events(&tenant.id, "unrouted", unrouted.len() as u64);
    }
    if routed.is_empty() {
        return Ok(Enqueued::default());
    }
    let events_queue = app
        .events
        .get()
        .ok_or_else(|| NotAcknowledged::NoQueue(app.events.error().unwrap_or_default()))?
        .clone();
    let max_queued = events_queue.config.load().max_queued_per_tenant;
    let queue = events_queue.queue.clone();
    let tenant_id = tenant.id.clone();
    let enqueued = tokio::task::spawn_blocking(move || {
        queue.enqueue(&tenant_id, &delivery, &routed, max_queued)
    })
    .await
    .expect("the queue does not panic")?;
    if enqueued.queued > 0 {
        events_queue.wake.notify_one();
    }
    app.metrics
        .events(&tenant.id, "queued", enqueued.queued as u64);
    app.metrics
        .events(&tenant.id, "duplicate", enqueued.duplicates as u64);
    Ok(enqueued)
}

/// Runs due events until the server stops.
async fn work(events: Arc<Events>, app: Weak<App>) {
    let running = Arc::new(Semaphore::new(events.config.load().concurrency));
    loop {
        let free = running.available_permits();
        let (due, next_due) = events.queue.take_due(free);
        for sequence in due {
            let Some(app) = app.upgrade() else { return };
            let permit = running.clone().acquire_owned().await.expect("never closed");
            let events = events.clone();
            tokio::spawn(async move {
                let _done = Finished {
                    permit: Some(permit),
                    wake: &events.wake,
                };
                handle(&app, &events, sequence).await;
            });
        }
        if app.strong_count() == 0 {
            return;
        }
        let pause = next_due.map_or(Duration::from_secs(60), |due| {
            Duration::from_millis(due.saturating_sub(queue::now_ms()))
        });
        tokio::select! {
            () = events.wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// When an event's task ends, however it ends (a panic included): gives its place back, then
/// wakes the worker to fill it.
struct Finished<'w> {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    wake: &'w Notify,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.wake.notify_one();
    }
}

/// What became of one attempt at an event.
enum Attempt {
    Handled,
    /// The kind of failure (as in the metrics) and what to log.
    Failed(&'static str, String),
}

/// Runs the rule of the event at `sequence` once, and records the outcome in the queue.
async fn handle(app: &App, events: &Events, sequence: u64) {
    let queue = events.queue.clone();
    let mut in_flight = InFlight {
        queue: &queue,
        sequence,
        settled: false,
    };
    let record = match blocking(&queue, move |q| q.get(sequence)).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            queue.release(sequence);
            in_flight.settled = true;
            return;
        }
        Err(error) => {
            tracing::error!(%error, "cannot read an event from the queue; trying again later");
            return;
        }
    };
    let attempt = record.attempts + 1;
    let span = tracing::info_span!(
        "event",
        tenant = %record.tenant,
        uuid = %record.uuid,
        event_type = %record.event_type,
        attempt,
        rule = tracing::field::Empty,
    );
    // Instrumented, never entered: a span entered across an `.await` would leak into whatever
    // else the thread runs meanwhile.
    async {
        let started = Instant::now();
        let (outcome, ran) = run(app, &record, attempt).await;
        let config = events.config.load_full();
        let decided = match &outcome {
            Attempt::Handled => ("handled", None),
            Attempt::Failed(kind, _) if attempt >= config.max_attempts => ("dead-letter", Some(*kind)),
            Attempt::Failed(kind, _) => ("retry", Some(*kind)),
        };
        log_decision(app, &record, ran.as_ref(), decided, started);
        let tenant = record.tenant.clone();
        let stored = match outcome {
            Attempt::Handled => {
                tracing::info!("event handled");
                app.metrics.events(&tenant, "handled", 1);
                blocking(&queue, move |q| q.finish(sequence)).await
            }
            Attempt::Failed(kind, error) if attempt >= config.max_attempts => {
                tracing::error!(kind, %error, "event failed its last attempt; kept as a dead letter");
                app.metrics.events(&tenant, "dead_letter", 1);
                blocking(&queue, move |q| q.bury(sequence, record, kind)).await
            }
            Attempt::Failed(kind, error) => {
                let pause = pause_after(&config, attempt);
                let retry_ms = pause.as_millis() as u64;
                tracing::warn!(kind, %error, retry_ms, "event failed; trying again later");
                app.metrics.events(&tenant, "retried", 1);
                blocking(&queue, move |q| q.retry(sequence, record, pause)).await
            }
        };
        match stored {
            Ok(()) => in_flight.settled = true,
            // The event stays pending and runs again: handled twice rather than lost.
            Err(error) => tracing::error!(%error, "cannot record an event's outcome in the queue"),
        }
    }
    .instrument(span)
    .await;
}

/// An event taken from the queue. Unless its outcome was recorded, dropping it (the outcome
/// could not be written, the queue could not be read, or the handling task panicked) makes the
/// event due again after [`UNSETTLED_PAUSE`] instead of leaving it in flight until a restart.
struct InFlight<'q> {
    queue: &'q Queue,
    sequence: u64,
    settled: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.queue.postpone(self.sequence, UNSETTLED_PAUSE);
        }
    }
}

/// One attempt: the route's rule on the event, as the current configuration has it.
async fn run(app: &App, record: &Record, attempt: u32) -> (Attempt, Option<Ran>) {
    let tenants = app.tenants();
    let Some(tenant) = tenants.get(&record.tenant) else {
        let failed = Attempt::Failed("no_route", "the tenant is no longer configured".into());
        return (failed, None);
    };
    let Some(route) = tenant.event_route(&record.event_type) else {
        let reason = "no event route handles this event type any more";
        return (Attempt::Failed("no_route", reason.into()), None);
    };
    tracing::Span::current().record("rule", route.rule_name.as_str());
    let job = Job::of_route(tenant, route);
    let (outcome, usage) = evaluate(
        &app.runtime,
        &job,
        &record.queued(),
        &record.delivery,
        attempt,
    )
    .await;
    let ran = Ran {
        route: route.label(),
        rule: route.rule_name.clone(),
        sha256: route.rule.sha256.clone(),
        fuel: (!usage.stopped_by_deadline).then_some(usage.fuel),
    };
    let attempt = match outcome {
        Ok(_) => Attempt::Handled,
        Err(failure) => {
            app.metrics
                .rule_failure(&tenant.id, &route.rule_name, failure.kind());
            Attempt::Failed(failure.kind(), failure.to_string())
        }
    };
    (attempt, Some(ran))
}

/// Which rule an attempt ran, for the decision log.
struct Ran {
    route: String,
    rule: String,
    sha256: String,
    fuel: Option<u64>,
}

/// Records an attempt at `record` in the decision log, if there is one.
fn log_decision(
    app: &App,
    record: &Record,
    ran: Option<&Ran>,
    outcome: (&str, Option<&str>),
    started: Instant,
) {
    let Some(decisions) = &app.decisions else {
        return;
    };
    let (decision, failure) = outcome;
    decisions.record(&Decision {
        tenant: &record.tenant,
        event_id: &record.uuid,
        hook: event::EVENT_TYPE,
        route: ran.map(|ran| ran.route.as_str()),
        rule: ran.map(|ran| ran.rule.as_str()),
        rule_sha256: ran.map(|ran| ran.sha256.as_str()),
        decision,
        failure,
        duration_us: started.elapsed().as_micros() as u64,
        fuel: ran.and_then(|ran| ran.fuel),
    });
}

/// Runs `job`'s event rule on `event`, which came in `delivery`, for its `attempt`th time, as the
/// worker does (and `wasmhook eval`, so that both run a rule alike).
pub async fn evaluate(
    runtime: &Runtime,
    job: &Job<'_>,
    event: &event::Queued,
    delivery: &event::Delivery,
    attempt: u32,
) -> (Result<(), RuleFailure>, Usage) {
    let request = event::request(event, delivery, attempt, job.settings);
    let deadline = Instant::now() + job.limits.deadline;
    let (outcome, usage) = runtime
        .evaluate(
            job.rule,
            hooks::Request::Event(request),
            job.limits,
            job.outbound,
            deadline,
            (job.share, job.usage),
        )
        .await;
    let outcome = outcome.and_then(|decision| match decision {
        hooks::Decision::Event(_) => Ok(()),
        _ => Err(RuleFailure::InvalidDecision(
            "not an event rule's outcome".into(),
        )),
    });
    (outcome, usage)
}

/// The pause after failed attempt number `attempt`: `retry_after`, doubled for each attempt
/// after the first, at most `max_retry_after`.
fn pause_after(config: &EventsConfig, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    config
        .retry_after
        .saturating_mul(1 << doublings)
        .min(config.max_retry_after)
}

/// Runs `operation` on the queue off the async threads (a commit waits for the disk).
async fn blocking<T: Send + 'static>(
    queue: &Arc<Queue>,
    operation: impl FnOnce(&Queue) -> T + Send + 'static,
) -> T {
    let queue = queue.clone();
    tokio::task::spawn_blocking(move || operation(&queue))
        .await
        .expect("the queue does not panic")
}

/// The queue per tenant, for the metrics.
pub fn per_tenant(app: &App) -> BTreeMap<String, TenantQueue> {
    app.events
        .get()
        .map(|events| events.queue.per_tenant())
        .unwrap_or_default()
}

/// The queue for the admin status: per tenant, and the latest dead letters (ids and failure
/// kinds only: an event's content is personal data).
pub fn status(app: &App) -> Value {
    let Some(events) = app.events.get() else {
        return json!({"open": false, "error": app.events.error()});
    };
    let tenants: serde_json::Map<String, Value> = events
        .queue
        .per_tenant()
        .into_iter()
        .map(|(tenant, queue)| {
            let status = json!({
                "queued": queue.queued,
                "oldest_age_seconds": queue.oldest_age.map(|age| age.as_secs_f64()),
                "dead_letters": queue.dead_letters,
            });
            (tenant, status)
        })
        .collect();
    let dead_letters: Vec<Value> = events
        .queue
        .dead_letters(DEAD_LETTERS_SHOWN)
        .unwrap_or_default()
        .into_iter()
        .map(|record| {
            json!({
                "tenant": record.tenant,
                "uuid": record.uuid,
                "event_type": record.event_type,
                "attempts": record.attempts,
                "failure": record.last_failure,
            })
        })
        .collect();
    json!({
        "open": true,
        "queue": events.queue.path(),
        "tenants": tenants,
        "dead_letters": dead_letters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_retry_after_up_to_the_maximum() {
        let config = EventsConfig {
            retry_after: Duration::from_millis(100),
            max_retry_after: Duration::from_millis(500),
            ..EventsConfig::default()
        };
        let pauses: Vec<u128> = (1..=6)
            .map(|attempt| pause_after(&config, attempt).as_millis())
            .collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500, 500]);
        assert_eq!(pause_after(&config, u32::MAX).as_millis(), 500);
    }

    #[test]
    fn an_event_whose_outcome_was_not_recorded_is_due_again_not_stranded_in_flight() {
        let dir = std::env::temp_dir().join(format!("wasmhook-in-flight-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("queue.redb");
        let _ = std::fs::remove_file(&file);
        let queue = Queue::open(&file).unwrap();
        let event = event::Queued {
            uuid: "u1".into(),
            event_type: "user.lifecycle.create".into(),
            published: String::new(),
            raw: "{}".into(),
        };
        let delivery = event::Delivery::default();
        queue.enqueue("t", &delivery, &[event], 10).unwrap();
        let (taken, _) = queue.take_due(10);
        assert_eq!(taken.len(), 1);
        // As when the handling task panics before recording anything.
        drop(InFlight {
            queue: &queue,
            sequence: taken[0],
            settled: false,
        });
        let (now, next_due) = queue.take_due(10);
        assert!(now.is_empty(), "it waits its pause first");
        let wait = next_due.expect("it is pending and due again") - queue::now_ms();
        assert!(wait <= UNSETTLED_PAUSE.as_millis() as u64, "{wait} ms");
        std::thread::sleep(UNSETTLED_PAUSE);
        assert_eq!(queue.take_due(10).0, taken, "then it runs again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
