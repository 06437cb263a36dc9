//! A circuit breaker per route: a rule that keeps failing expensively (deadline, memory cap,
//! fuel, trap: typically a bad deploy) stops being run for a while.
//!
//! - **Closed**: calls run; `failures` consecutive expensive failures open it.
//! - **Open**: calls get the route's failure policy at once (kind `circuit_open`), without an
//!   instance, for `cool_down`.
//! - **Half-open**: after the cool-down one call at a time runs as a probe (the others are
//!   answered as when open); a probe that succeeds closes the breaker, one that fails opens it
//!   for twice the previous cool-down, up to [`MAX_BACKOFF`] times `cool_down` (as Envoy's
//!   outlier ejection grows), so a rule that stays broken costs a probe a minute or so rather
//!   than one per cool-down. A new deploy of the route (another rule, settings or limits) starts
//!   with a new, closed breaker.
//!
//! Cheap failures (the rule's own `err`, an invalid or oversized decision) do not count: they
//! cost the server little; nor does a deadline that came while the rule was waiting for the
//! CPU, which is the machine's load rather than the rule's fault. A closed breaker costs an atomic load per call and a store after it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The longest an open breaker waits, as a multiple of `cool_down`, after failed probes.
pub const MAX_BACKOFF: u32 = 8;

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive expensive failures that open the breaker; 0 never opens it.
    pub failures: u32,
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures: 5,
            cool_down: Duration::from_secs(5),
        }
    }
}

/// The breaker's state, as shown in the status and the `wasmhook_circuit_state` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

impl CircuitState {
    pub fn name(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        }
    }
}

/// Whether a call may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Run the rule; `probe` when it is the half-open breaker's test call.
    Run { probe: bool },
    /// Answer with the failure policy without running the rule.
    Reject,
}

/// How a call that ran ended, for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Deadline, memory cap, fuel or trap.
    ExpensiveFailure,
    /// Any other failure: neither counts nor resets the count.
    CheapFailure,
}

pub struct Breaker {
    config: BreakerConfig,
    /// A [`CircuitState`], read without the lock on every call.
    state: AtomicU8,
    consecutive: AtomicU32,
    /// When the open breaker lets a probe through; whether a probe is running.
    timing: Mutex<Timing>,
}

struct Timing {
    reopens_at: Instant,
    probing: bool,
    /// The current cool-down as a multiple of the configured one: doubled by each failed
    /// probe, back to 1 when the breaker closes.
    backoff: u32,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            state: AtomicU8::new(CircuitState::Closed as u8),
            consecutive: AtomicU32::new(0),
            timing: Mutex::new(Timing {
                reopens_at: Instant::now(),
                probing: false,
                backoff: 1,
            }),
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    pub fn state(&self) -> CircuitState {
        match self.state.load(Ordering::Acquire) {
            0 => CircuitState::Closed,
            1 => CircuitState::Open,
            _ => CircuitState::HalfOpen,
        }
    }

    /// Whether the next call may run; moves an open breaker whose cool-down is over to
    /// half-open, letting this call through as the probe.
    pub fn check(&self) -> Verdict {
        if self.state() == CircuitState::Closed {
            return Verdict::Run { probe: false };
        }
        let mut timing = self.lock();
        match self.state() {
            CircuitState::Closed => Verdict::Run { probe: false },
            CircuitState::Open if Instant::now() < timing.reopens_at => Verdict::Reject,
            CircuitState::Open | CircuitState::HalfOpen if !timing.probing => {
                timing.probing = true;
                if self.state() == CircuitState::Open {
                    self.set(CircuitState::HalfOpen);
                    tracing::info!("circuit breaker half-open: letting a probe call through");
                }
                Verdict::Run { probe: true }
            }
            _ => Verdict::Reject,
        }
    }

    /// Records how a call that ran ended. Returns the new state when it changed.
    pub fn record(&self, outcome: Outcome, probe: bool) -> Option<CircuitState> {
        if self.config.failures == 0 {
            return None;
        }
        if probe {
            let mut timing = self.lock();
            timing.probing = false;
            return match outcome {
                Outcome::Success => {
                    self.consecutive.store(0, Ordering::Release);
                    timing.backoff = 1;
                    self.set(CircuitState::Closed);
                    tracing::info!("circuit breaker closed: the probe call succeeded");
                    Some(CircuitState::Closed)
                }
                Outcome::ExpensiveFailure => {
                    timing.backoff = (timing.backoff * 2).min(MAX_BACKOFF);
                    self.open(&mut timing, "the probe call failed");
                    Some(CircuitState::Open)
                }
                // Inconclusive: the next call probes again.
                Outcome::CheapFailure => None,
            };
        }
        match outcome {
            Outcome::Success => {
                if self.consecutive.load(Ordering::Relaxed) != 0 {
                    self.consecutive.store(0, Ordering::Release);
                }
                None
            }
            Outcome::CheapFailure => None,
            Outcome::ExpensiveFailure => {
                let failures = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
                if failures < self.config.failures || self.state() != CircuitState::Closed {
                    return None;
                }
                let mut timing = self.lock();
                if self.state() != CircuitState::Closed {
                    return None;
                }
                self.open(&mut timing, "consecutive failures");
                Some(CircuitState::Open)
            }
        }
    }

    fn open(&self, timing: &mut Timing, why: &'static str) {
        let cool_down = self.config.cool_down * timing.backoff;
        timing.reopens_at = Instant::now() + cool_down;
        self.set(CircuitState::Open);
        tracing::warn!(
            why,
            failures = self.consecutive.load(Ordering::Relaxed),
            cool_down_ms = cool_down.as_millis() as u64,
            "circuit breaker opened: the route answers with its failure policy without running the rule"
        );
    }

    fn set(&self, state: CircuitState) {
        self.state.store(state as u8, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timing> {
        self.timing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, cool_down_ms: u64) -> Breaker {
        Breaker::new(BreakerConfig {
            failures,
            cool_down: Duration::from_millis(cool_down_ms),
        })
    }

    fn fail(breaker: &Breaker, times: u32) {
        for _ in 0..times {
            assert_eq!(breaker.check(), Verdict::Run { probe: false });
            breaker.record(Outcome::ExpensiveFailure, false);
        }
    }

    #[test]
    fn opens_after_consecutive_expensive_failures_only() {
        let breaker = breaker(3, 10_000);
        fail(&breaker, 2);
        breaker.record(Outcome::Success, false);
        fail(&breaker, 2);
        breaker.record(Outcome::CheapFailure, false);
        assert_eq!(
            breaker.state(),
            CircuitState::Closed,
            "a success resets the count"
        );
        fail(&breaker, 1);
        assert_eq!(breaker.state(), CircuitState::Open);
        assert_eq!(breaker.check(), Verdict::Reject);
    }

    #[test]
    fn half_opens_after_the_cool_down_with_one_probe_at_a_time() {
        let breaker = breaker(1, 20);
        fail(&breaker, 1);
        assert_eq!(breaker.check(), Verdict::Reject);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(breaker.check(), Verdict::Run { probe: true });
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.check(), Verdict::Reject, "one probe at a time");
        // A failed probe opens it again, for twice the cool-down.
        assert_eq!(
            breaker.record(Outcome::ExpensiveFailure, true),
            Some(CircuitState::Open)
        );
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(breaker.check(), Verdict::Reject);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(breaker.check(), Verdict::Run { probe: true });
        assert_eq!(
            breaker.record(Outcome::Success, true),
            Some(CircuitState::Closed)
        );
        assert_eq!(breaker.check(), Verdict::Run { probe: false });
    }

    #[test]
    fn each_failed_probe_doubles_the_cool_down_up_to_its_cap_and_closing_resets_it() {
        let breaker = breaker(1, 10);
        fail(&breaker, 1);
        let mut expected = Vec::new();
        let mut waited = Vec::new();
        for backoff in [2, 4, 8, 8] {
            let opened = Instant::now();
            while breaker.check() == Verdict::Reject {
                std::thread::sleep(Duration::from_millis(1));
            }
            waited.push(opened.elapsed());
            breaker.record(Outcome::ExpensiveFailure, true);
            expected.push(Duration::from_millis(10 * backoff));
        }
        // The first wait is the plain cool-down; each later one follows a failed probe.
        assert!(waited[0] >= Duration::from_millis(10), "{waited:?}");
        for (waited, at_least) in waited[1..].iter().zip(&expected) {
            assert!(waited >= at_least, "{waited:?} < {at_least:?}");
        }
        assert!(
            waited[3] < Duration::from_millis(10 * 8 * 3),
            "capped: {waited:?}"
        );
        // A successful probe closes it, and the next opening waits one cool-down again.
        while breaker.check() == Verdict::Reject {
            std::thread::sleep(Duration::from_millis(1));
        }
        breaker.record(Outcome::Success, true);
        fail(&breaker, 1);
        let opened = Instant::now();
        while breaker.check() == Verdict::Reject {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            opened.elapsed() < Duration::from_millis(10 * 2 * 3),
            "{:?}",
            opened.elapsed()
        );
    }

    #[test]
    fn zero_failures_never_opens() {
        let breaker = breaker(0, 10);
        fail(&breaker, 100);
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}
