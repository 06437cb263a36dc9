//! Prometheus metrics, served at `GET /metrics`.
//!
//! Label values are bounded: tenants and rules come from the configuration, never from a request
//! (a call to an unknown tenant is counted by status only), so a caller cannot grow the series set.
//!
//! What the tenants and routes carry themselves (CPU used, circuit breaker state) is read at
//! scrape time ([`usage_text`]) rather than counted per call through label lookups.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use std::collections::BTreeMap;

use crate::events::queue::TenantQueue;
use crate::tenant::Tenants;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    tenant: String,
    answer: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    tenant: String,
    rule: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabels {
    tenant: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    tenant: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

pub struct Metrics {
    registry: Registry,
    responses: Family<StatusLabels, Counter>,
    answers: Family<AnswerLabels, Counter>,
    rule_failures: Family<FailureLabels, Counter>,
    unrouted: Family<TenantLabels, Counter>,
    reloads: Family<OutcomeLabels, Counter>,
    auth_failures: Family<AuthLabels, Counter>,
    evaluation_seconds: Family<TenantLabels, Histogram>,
    connections_refused: Counter,
    tls_handshake_failures: Counter,
    decision_log_dropped: Counter,
    events: Family<EventLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wasmhook");
        let responses = Family::default();
        registry.register(
            "http_responses",
            "HTTP responses by status",
            responses.clone(),
        );
        let answers = Family::default();
        registry.register(
            "hook_answers",
            "Hook answers by tenant and kind",
            answers.clone(),
        );
        let rule_failures = Family::default();
        registry.register(
            "rule_failures",
            "Rule failures answered by the failure policy, by kind",
            rule_failures.clone(),
        );
        let unrouted = Family::default();
        registry.register(
            "unrouted_calls",
            "Hook calls with no matching route",
            unrouted.clone(),
        );
        let reloads = Family::default();
        registry.register(
            "reloads",
            "Reloads; `error` when the file or a tenant failed to load",
            reloads.clone(),
        );
        let auth_failures = Family::default();
        registry.register(
            "auth_failures",
            "Calls refused with 401, by tenant and reason",
            auth_failures.clone(),
        );
        let evaluation_seconds = Family::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_05, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "hook_duration_seconds",
            "Time from a parsed hook call to its answer",
            evaluation_seconds.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed at once because every open connection was busy",
            connections_refused.clone(),
        );
        let tls_handshake_failures = Counter::default();
        registry.register(
            "tls_handshake_failures",
            "Connections to the hook listener closed because their TLS handshake failed or took \
             longer than 5 s (plain HTTP sent to HTTPS, no common protocol version or cipher)",
            tls_handshake_failures.clone(),
        );
        let decision_log_dropped = Counter::default();
        registry.register(
            "decision_log_dropped",
            "Decision log lines dropped because the writer could not keep up or write",
            decision_log_dropped.clone(),
        );
        let events = Family::default();
        registry.register(
            "events",
            "System Log events from event hooks by what became of them: queued, duplicate \
             (already queued), unrouted (no event route), handled, retried, dead_letter",
            events.clone(),
        );
        Metrics {
            registry,
            events,
            connections_refused,
            tls_handshake_failures,
            decision_log_dropped,
            responses,
            answers,
            rule_failures,
            unrouted,
            reloads,
            auth_failures,
            evaluation_seconds,
        }
    }
}

impl Metrics {
    pub fn response(&self, status: u16) {
        self.responses.get_or_create(&StatusLabels { status }).inc();
    }

    pub fn answer(&self, tenant: &str, answer: &'static str, seconds: f64) {
        let tenant = tenant.to_owned();
        self.evaluation_seconds
            .get_or_create(&TenantLabels {
                tenant: tenant.clone(),
            })
            .observe(seconds);
        self.answers
            .get_or_create(&AnswerLabels { tenant, answer })
            .inc();
    }

    pub fn rule_failure(&self, tenant: &str, rule: &str, kind: &'static str) {
        let labels = FailureLabels {
            tenant: tenant.into(),
            rule: rule.into(),
            kind,
        };
        self.rule_failures.get_or_create(&labels).inc();
    }

    pub fn reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn auth_failure(&self, tenant: &str, reason: &'static str) {
        let labels = AuthLabels {
            tenant: tenant.into(),
            reason,
        };
        self.auth_failures.get_or_create(&labels).inc();
    }

    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// The counter the decision log adds its dropped lines to.
    pub fn decision_log_dropped(&self) -> Counter {
        self.decision_log_dropped.clone()
    }

    pub fn tls_handshake_failed(&self) {
        self.tls_handshake_failures.inc();
    }

    pub fn unrouted(&self, tenant: &str) {
        self.unrouted
            .get_or_create(&TenantLabels {
                tenant: tenant.into(),
            })
            .inc();
    }

    /// Counts `count` events of `tenant` that had `outcome`.
    pub fn events(&self, tenant: &str, outcome: &'static str, count: u64) {
        if count > 0 {
            let labels = EventLabels {
                tenant: tenant.into(),
                outcome,
            };
            self.events.get_or_create(&labels).inc_by(count);
        }
    }

    /// The Prometheus text exposition of every metric, with `tenants`' usage and the event
    /// queue per tenant.
    pub fn encode(&self, tenants: &Tenants, queue: &BTreeMap<String, TenantQueue>) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        // Before the closing `# EOF` of the exposition.
        let end = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(end, &(usage_text(tenants) + &queue_text(queue)));
        text
    }
}

/// CPU used per tenant and per route, each route's circuit breaker and shadow comparisons, in
/// the text format.
fn usage_text(tenants: &Tenants) -> String {
    use std::fmt::Write;
    let mut tenant_cpu = String::new();
    let mut route_cpu = String::new();
    let mut circuit = String::new();
    let mut shadows = String::new();
    let mut ids: Vec<_> = tenants.iter().collect();
    ids.sort_by(|a, b| a.id.cmp(&b.id));
    for tenant in ids {
        let id = label(&tenant.id);
        let cpu = tenant.share.cpu().as_secs_f64();
        let _ = writeln!(
            tenant_cpu,
            "wasmhook_tenant_cpu_seconds_total{{tenant=\"{id}\"}} {cpu}"
        );
        for route in tenant.routes.iter() {
            let labels = format!("tenant=\"{id}\",rule=\"{}\"", label(&route.rule_name));
            let cpu = route.usage.cpu().as_secs_f64();
            let _ = writeln!(
                route_cpu,
                "wasmhook_rule_cpu_seconds_total{{{labels}}} {cpu}"
            );
            let state = route.breaker.state() as u8;
            let _ = writeln!(circuit, "wasmhook_circuit_state{{{labels}}} {state}");
            if let Some(shadow) = &route.shadow {
                let shadow_rule = label(&shadow.rule_name);
                for (outcome, count) in shadow.tally.counts() {
                    let _ = writeln!(
                        shadows,
                        "wasmhook_shadow_evaluations_total{{{labels},shadow_rule=\"{shadow_rule}\",outcome=\"{outcome}\"}} {count}"
                    );
                }
            }
        }
    }
    // A tenant that failed its last load serves its last good version, or nothing.
    let degraded = tenants.errors.len();
    format!(
        "# HELP wasmhook_tenants_degraded Tenants whose last load failed: they serve their last good version, or nothing.\n\
         # TYPE wasmhook_tenants_degraded gauge\nwasmhook_tenants_degraded {degraded}\n\
         # HELP wasmhook_tenant_cpu_seconds CPU time the tenant's evaluations used.\n\
         # TYPE wasmhook_tenant_cpu_seconds counter\n{tenant_cpu}\
         # HELP wasmhook_rule_cpu_seconds CPU time the route's evaluations used.\n\
         # TYPE wasmhook_rule_cpu_seconds counter\n{route_cpu}\
         # HELP wasmhook_circuit_state The route's circuit breaker: 0 closed, 1 open, 2 half-open.\n\
         # TYPE wasmhook_circuit_state gauge\n{circuit}\
         # HELP wasmhook_shadow_evaluations Shadow rule evaluations by how they compared with the live answer.\n\
         # TYPE wasmhook_shadow_evaluations counter\n{shadows}"
    )
}

/// The event queue per tenant, in the text format.
fn queue_text(queue: &BTreeMap<String, TenantQueue>) -> String {
    use std::fmt::Write;
    let (mut queued, mut oldest, mut dead) = (String::new(), String::new(), String::new());
    for (tenant, state) in queue {
        let id = label(tenant);
        let _ = writeln!(
            queued,
            "wasmhook_event_queue_events{{tenant=\"{id}\"}} {}",
            state.queued
        );
        let age = state.oldest_age.map_or(0.0, |age| age.as_secs_f64());
        let _ = writeln!(
            oldest,
            "wasmhook_event_queue_oldest_age_seconds{{tenant=\"{id}\"}} {age}"
        );
        let _ = writeln!(
            dead,
            "wasmhook_event_dead_letters{{tenant=\"{id}\"}} {}",
            state.dead_letters
        );
    }
    format!(
        "# HELP wasmhook_event_queue_events Events acknowledged and waiting for their rule.\n\
         # TYPE wasmhook_event_queue_events gauge\n{queued}\
         # HELP wasmhook_event_queue_oldest_age_seconds Age of the oldest event waiting.\n\
         # TYPE wasmhook_event_queue_oldest_age_seconds gauge\n{oldest}\
         # HELP wasmhook_event_dead_letters Events kept after their last attempt failed.\n\
         # TYPE wasmhook_event_dead_letters gauge\n{dead}"
    )
}

/// A label value escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
