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
//! While closed, a route whose last call that counted failed expensively runs **one call at a
//! time** until a call succeeds: the others wait for their turn (without an instance, burning
//! nothing) until their deadline at most, and when the breaker opens meanwhile they are answered
//! at once. Calls started before the first failure still finish side by side. Measured with
//! rules called 100 times a second beside a busy tenant: before their breakers opened, the rule
//! looping to its 50 ms deadline ran 8–10 calls and the one allocating past its memory cap
//! 15–18 when every call was let through; one at a time, 7–8 and 5–7, and the healthy tenant's
//! slow stretch while they opened shrank from 200–400 ms to 100–250 ms. The cost: a good call
//! that comes while a failing one runs waits for it. A healthy rule that failed once by chance
//! hardly notices: its next call ends in milliseconds and lets the waiting ones through. (Also
//! running a new deploy one call at a time until its first success was tried and dropped: a
//! burst on a fresh deploy then queued behind the first call and was throttled.)
//!
//! Cheap failures (the rule's own `err`, an invalid or oversized decision) do not count: they
//! cost the server little; nor does a deadline that came while the rule was waiting for the
//! CPU, which is the machine's load rather than the rule's fault. A closed breaker costs an
//! atomic load per call and a store after it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::runtime::{RuleFailure, acquire_by};

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
enum Verdict {
    /// Run the rule; `probe` when it is the half-open breaker's test call.
    Run { probe: bool },
    /// Answer with the failure policy without running the rule.
    Reject,
}

/// A call's leave to run the rule, from [`Breaker::enter`]; it holds the route's one-at-a-time
/// turn, if it needed it, until dropped (after [`Breaker::record`]).
pub struct Pass<'a> {
    /// Whether the call is the half-open breaker's probe.
    pub probe: bool,
    _turn: Option<SemaphorePermit<'a>>,
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
    /// The one turn to run while the last call that counted failed expensively.
    turn: Semaphore,
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
            turn: Semaphore::new(1),
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

    /// Lets a call run the rule, unless the breaker is open (or half-open with its probe
    /// running); after an expensive failure, waits until `deadline` at most for the route's one
    /// turn to run.
    pub async fn enter(&self, deadline: Instant) -> Result<Pass<'_>, RuleFailure> {
        let Verdict::Run { probe } = self.check() else {
            return Err(RuleFailure::CircuitOpen);
        };
        if probe || !self.suspect() {
            return Ok(Pass { probe, _turn: None });
        }
        let Some(turn) = acquire_by(&self.turn, 1, deadline).await else {
            return Err(RuleFailure::Concurrency(
                "after a failure the route runs one call at a time, and the call before this one was still running at its deadline",
            ));
        };
        // Meanwhile the call before may have succeeded (anyone may run) or opened the breaker.
        let Verdict::Run { probe } = self.check() else {
            return Err(RuleFailure::CircuitOpen);
        };
        let turn = (!probe && self.suspect()).then_some(turn);
        Ok(Pass { probe, _turn: turn })
    }

    /// Whether the last call that counted failed expensively (closed and suspect, open, or
    /// half-open): the scheduler then demotes the route (see `scheduler.rs`).
    pub fn failing(&self) -> bool {
        self.consecutive.load(Ordering::Acquire) != 0
    }

    /// Closed, with the last call that counted an expensive failure.
    fn suspect(&self) -> bool {
        self.failing() && self.state() == CircuitState::Closed
    }

    /// Whether the next call may run; moves an open breaker whose cool-down is over to
    /// half-open, letting this call through as the probe.
    fn check(&self) -> Verdict {
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
        // Margins of 50 ms or more either side, so a busy machine's scheduling cannot
        // decide the outcome.
        let breaker = breaker(1, 100);
        fail(&breaker, 1);
        assert_eq!(breaker.check(), Verdict::Reject);
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(breaker.check(), Verdict::Run { probe: true });
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.check(), Verdict::Reject, "one probe at a time");
        // A failed probe opens it again, for twice the cool-down.
        assert_eq!(
            breaker.record(Outcome::ExpensiveFailure, true),
            Some(CircuitState::Open)
        );
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(breaker.check(), Verdict::Reject);
        std::thread::sleep(Duration::from_millis(100));
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
        // Each wait is timed from before the call that opens the breaker, so it can only be
        // longer than the breaker's own cool-down, never shorter by the call's duration.
        let mut opened = Instant::now();
        fail(&breaker, 1);
        let mut expected = Vec::new();
        let mut waited = Vec::new();
        for backoff in [2, 4, 8, 8] {
            while breaker.check() == Verdict::Reject {
                std::thread::sleep(Duration::from_millis(1));
            }
            waited.push(opened.elapsed());
            opened = Instant::now();
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
        let opened = Instant::now();
        fail(&breaker, 1);
        while breaker.check() == Verdict::Reject {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            opened.elapsed() < Duration::from_millis(10 * 2 * 3),
            "{:?}",
            opened.elapsed()
        );
    }

    /// Whether a call may run at once (a deadline of now: it cannot wait).
    async fn runs_at_once(breaker: &Breaker) -> bool {
        match breaker.enter(Instant::now()).await {
            Ok(_) => true,
            Err(RuleFailure::Concurrency(_)) => false,
            Err(other) => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn after_an_expensive_failure_one_call_runs_at_a_time_until_one_succeeds() {
        let breaker = breaker(5, 10_000);
        let later = Instant::now() + Duration::from_secs(10);
        let (a, b) = (breaker.enter(later).await, breaker.enter(later).await);
        assert!(a.is_ok() && b.is_ok(), "side by side before any failure");
        drop((a, b));

        breaker.record(Outcome::ExpensiveFailure, false);
        let first = breaker.enter(later).await.unwrap();
        assert!(!runs_at_once(&breaker).await, "one at a time");
        let mut second = std::pin::pin!(breaker.enter(later));
        let waited = tokio::time::timeout(Duration::from_millis(20), second.as_mut()).await;
        assert!(waited.is_err(), "waits for the first call");
        // The first fails too: the second runs, still alone.
        breaker.record(Outcome::ExpensiveFailure, first.probe);
        drop(first);
        let second = second.await.expect("runs once the first has ended");
        assert!(!runs_at_once(&breaker).await, "still one at a time");
        // A cheap failure proves nothing; a success lets everyone through.
        breaker.record(Outcome::CheapFailure, second.probe);
        assert!(!runs_at_once(&breaker).await);
        breaker.record(Outcome::Success, second.probe);
        assert!(runs_at_once(&breaker).await, "the waiting ones go too");
        drop(second);
        let (a, b) = (breaker.enter(later).await, breaker.enter(later).await);
        assert!(a.is_ok() && b.is_ok(), "side by side again");
    }

    #[tokio::test]
    async fn a_call_waiting_for_its_turn_is_refused_when_the_breaker_opens() {
        let breaker = breaker(2, 10_000);
        let later = Instant::now() + Duration::from_secs(10);
        breaker.record(Outcome::ExpensiveFailure, false);
        let first = breaker.enter(later).await.unwrap();
        let mut second = std::pin::pin!(breaker.enter(later));
        let waited = tokio::time::timeout(Duration::from_millis(20), second.as_mut()).await;
        assert!(waited.is_err(), "waits for the first call");
        breaker.record(Outcome::ExpensiveFailure, first.probe);
        drop(first);
        assert!(matches!(second.await, Err(RuleFailure::CircuitOpen)));
    }

    #[tokio::test]
    async fn without_a_breaker_calls_never_wait_for_a_turn() {
        let breaker = breaker(0, 10);
        breaker.record(Outcome::ExpensiveFailure, false);
        let _running = breaker.enter(Instant::now()).await.unwrap();
        assert!(runs_at_once(&breaker).await);
    }

    #[test]
    fn zero_failures_never_opens() {
        let breaker = breaker(0, 10);
        fail(&breaker, 100);
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
}
