//! CPU fair share between tenants: who runs when the machine is busy, and which calls are turned
//! away because their tenant's share cannot serve them in time.
//!
//! An evaluation uses the CPU only while its future is polled: a guest runs until the next epoch
//! tick (1 ms) and then yields, and a guest waiting in a host call is not polled at all. So the
//! CPU is handed out in slices: there are as many run slots as worker threads, an evaluation
//! must hold one to be polled, and the time each poll takes is charged to its tenant (and its
//! route, for the metrics). At every epoch tick a running guest gives its slot back and joins
//! the queue; the slot goes to the waiting evaluation whose tenant has used the least CPU for its
//! weight (stride scheduling: each tenant's *pass* grows by CPU time / weight), which may be
//! itself. Within a tenant, calls that have used less than [`SHORT`] of CPU go first (a quick
//! call is never stuck behind a slow one), then the oldest call, so that a tenant's slow calls
//! finish in order instead of all slowing down together. A call that has not started yet holds
//! no instance; once a tenant has twice as many started calls as there are slots, its calls
//! that have not started go last, so that a burst does not instantiate hundreds of rules (a
//! Python rule holds megabytes) that then wait for the CPU. Evaluations without a slot are not
//! runnable, so they burn nothing. A guest blocked in a host call gives its slot back without
//! queueing, and queues again when it wakes. A tenant
//! whose rule burns CPU therefore waits behind its own calls while everyone else keeps their
//! share, and a tenant alone gets every slot.
//!
//! A short call does not wait a whole tick behind another tenant's long one. Waiting calls that
//! have used less than [`SHORT`] of CPU compete with a head start of [`SHORT`] of their
//! tenant's CPU: they get the slot unless their tenant is that much ahead of the long call's.
//! And a call that has to wait for a slot while another tenant's long evaluation runs advances
//! the engine's epoch at once (at most once per [`PREEMPTION_GAP`]), so the running guests
//! yield at their next epoch check rather than at the end of their tick. Over time the shares
//! stay as they were (the head start is a bounded lead, not a rate), but a tenant whose calls
//! take 50 µs no longer waits up to a millisecond for each slice of a neighbour's rule that
//! loops to its deadline. A tenant never preempts its own calls, so a tenant alone runs as
//! before.
//!
//! A route whose last counted call failed expensively (its circuit breaker is suspect, open or
//! probing: `tenant/breaker.rs`) is **demoted**: its evaluations' CPU is charged
//! [`DEMOTED_CHARGE`] times to its tenant's share, so while the breaker counts failures the
//! rule gets a quarter of a peer's share, not all of it. Demoted, not parked: a good call after
//! a chance failure still runs, and its success lifts the demotion.
//!
//! A slice never starts from a plain wake-up: an evaluation handed a slot first yields once
//! with `tokio::task::yield_now`, which resumes it only after tokio has polled its I/O driver.
//! Tasks woken directly stay runnable, and tokio then polls its driver only every 61 task
//! polls: with 1 ms slices, new connections and requests would wait tens of milliseconds.
//!
//! Admission keeps a tenant's calls within what its share can finish: a call whose tenant
//! already has more work in flight than its share of the slots can do in three quarters of the
//! call's time left is refused at once (kind `throttled`), instead of joining a queue whose
//! tail would miss its deadline. The estimate uses each route's average CPU per evaluation;
//! a call with nothing of its tenant's in flight is always admitted, so on an idle machine
//! nothing is refused.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A call that has used less CPU than this runs before older, longer calls of its tenant, and
/// with this much head start against other tenants' long calls.
pub const SHORT: Duration = Duration::from_millis(2);

/// How many times its CPU a demoted route's evaluation is charged to its tenant's share.
pub const DEMOTED_CHARGE: u64 = 4;

/// The least time between two preemptions.
pub const PREEMPTION_GAP: Duration = Duration::from_micros(100);

/// Makes every running guest yield at its next epoch check.
pub type Preempt = Box<dyn Fn() + Send + Sync>;

/// The process-wide run slots and the tenants waiting for them.
pub struct Scheduler {
    slots: usize,
    state: Mutex<State>,
    /// Sum of the weights of tenants with evaluations in flight.
    active_weight: AtomicU64,
    preempt: Option<Preempt>,
}

#[derive(Default)]
struct State {
    free: usize,
    /// Started calls a tenant may have before its calls that have not started go last.
    started_limit: u64,
    /// Evaluations waiting for a slot, oldest first.
    waiting: Vec<Waiting>,
    /// Tickets handed a slot while waiting, not yet polled again; `true` when the evaluation
    /// already comes back through a deferred wake-up (it yielded at an epoch tick).
    granted: Vec<(u64, bool)>,
    next_ticket: u64,
    /// Orders evaluations by arrival, to serve a tenant's calls oldest first.
    next_arrival: u64,
    /// The pass of the last tenant granted a slot: a tenant coming back from idle starts here,
    /// so it cannot spend CPU it did not use while idle in one burst.
    virtual_time: u64,
    /// When running guests were last preempted.
    preempted_at: Option<Instant>,
    /// Whose long evaluations (at least [`SHORT`] of CPU used) are being polled now, by the
    /// address of their tenant's share: one entry per poll.
    long_polls: Vec<usize>,
}

struct Waiting {
    ticket: u64,
    /// When the evaluation first asked for a slot.
    arrival: u64,
    /// Whether it has started (holds an instance).
    started: bool,
    /// Whether it has used at least [`SHORT`] of CPU already.
    long: bool,
    share: Arc<Share>,
    waker: Waker,
    /// Its task will be polled anyway (a deferred wake-up from its yield is pending).
    wake_pending: bool,
}

/// What an evaluation may do with its next poll.
enum Take {
    /// Run a slice now.
    Run,
    /// Handed a slot through a plain wake-up: yield once (until tokio has polled its I/O
    /// driver), then run.
    YieldThenRun,
    /// Wait for a slot.
    Wait,
}

/// A tenant's share: its weight and the CPU it has used.
pub struct Share {
    weight: u64,
    /// CPU time / weight, in nanoseconds: who is behind gets the next slot.
    pass: AtomicU64,
    /// CPU used by this tenant's evaluations, in nanoseconds.
    cpu_nanos: AtomicU64,
    /// Estimated CPU of the evaluations in flight, in nanoseconds.
    demand_nanos: AtomicU64,
    in_flight: AtomicU64,
    /// Evaluations that have had a slice and not finished: they hold an instance.
    started: AtomicU64,
}

/// What one route's evaluations cost.
#[derive(Default)]
pub struct RouteUsage {
    /// CPU used by this route's evaluations, in nanoseconds.
    cpu_nanos: AtomicU64,
    /// Moving average of the CPU one evaluation takes, in nanoseconds (0 until one ran).
    average_nanos: AtomicU64,
    /// The route's last counted call failed expensively: see the module's docs.
    demoted: AtomicBool,
}

/// Why a call was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled;

/// An admitted call's claim on its tenant's share; dropping it ends the claim.
pub struct Admission<'a> {
    scheduler: &'a Scheduler,
    share: &'a Share,
    estimate: u64,
}

impl Scheduler {
    /// A scheduler with one run slot per worker thread of the current tokio runtime.
    pub fn for_current_runtime() -> Self {
        let workers = tokio::runtime::Handle::try_current()
            .map(|handle| handle.metrics().num_workers())
            .unwrap_or(1);
        Scheduler::new(workers.max(1))
    }

    pub fn new(slots: usize) -> Self {
        Scheduler {
            slots,
            state: Mutex::new(State {
                free: slots,
                started_limit: 2 * slots as u64,
                ..State::default()
            }),
            active_weight: AtomicU64::new(0),
            preempt: None,
        }
    }

    /// Lets a call that waits while another tenant's long evaluation runs preempt it with
    /// `preempt`.
    pub fn with_preemption(self, preempt: Preempt) -> Self {
        Scheduler {
            preempt: Some(preempt),
            ..self
        }
    }

    /// Admits a call of `route` for `share`'s tenant, if the tenant's work in flight plus this
    /// call can be done with its share of the slots within `time_left`.
    pub fn admit<'a>(
        &'a self,
        share: &'a Share,
        route: &RouteUsage,
        time_left: Duration,
    ) -> Result<Admission<'a>, Throttled> {
        let estimate = route.average_nanos.load(Ordering::Relaxed);
        let in_flight = share.in_flight.fetch_add(1, Ordering::AcqRel);
        if in_flight == 0 {
            self.active_weight.fetch_add(share.weight, Ordering::AcqRel);
            // Back from idle: no credit for the time away, or it could take the CPU in one
            // burst from tenants that kept working.
            let floor = self.lock().virtual_time;
            share.pass.fetch_max(floor, Ordering::Relaxed);
        }
        let admission = Admission {
            scheduler: self,
            share,
            estimate,
        };
        let demand = share.demand_nanos.fetch_add(estimate, Ordering::AcqRel) + estimate;
        let active = self.active_weight.load(Ordering::Acquire).max(share.weight);
        // Nanoseconds of CPU the tenant gets per nanosecond of wall time, at its share.
        let rate = self.slots as f64 * share.weight as f64 / active as f64;
        if in_flight > 0 && demand as f64 / rate > 0.75 * time_left.as_nanos() as f64 {
            return Err(Throttled);
        }
        Ok(admission)
    }

    /// Runs `future`, polling it only while holding a run slot, and charges the time each poll
    /// takes to `share` and `route`. `yielded` is set (by the epoch callback) when the future
    /// returns `Pending` to let others run rather than to wait for something.
    pub async fn run<F: Future>(
        &self,
        share: &Arc<Share>,
        route: &RouteUsage,
        yielded: &AtomicBool,
        future: F,
    ) -> F::Output {
        let mut future = pin!(future);
        let mut ticket = Ticket {
            scheduler: self,
            id: None,
            arrival: None,
            reserved: false,
        };
        let mut pause: Option<Pin<Box<dyn Future<Output = ()> + Send>>> = None;
        let mut used = Duration::ZERO;
        // Counts the evaluation among its tenant's started ones from its first slice on.
        let mut holds_instance: Option<Started<'_>> = None;
        let output = std::future::poll_fn(|cx| {
            if let Some(yielding) = &mut pause {
                if yielding.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                pause = None;
            } else {
                let order = (holds_instance.is_some(), used >= SHORT);
                match ticket.take_slot(share, order, cx) {
                    Take::Run => {}
                    Take::Wait => return Poll::Pending,
                    Take::YieldThenRun => {
                        let mut yielding: Pin<Box<dyn Future<Output = ()> + Send>> =
                            Box::pin(tokio::task::yield_now());
                        if yielding.as_mut().poll(cx).is_pending() {
                            pause = Some(yielding);
                            return Poll::Pending;
                        }
                    }
                }
            }
            holds_instance.get_or_insert_with(|| Started::new(share));
            let long = (used >= SHORT).then(|| LongPoll::new(self, share));
            let started = Instant::now();
            let polled = future.as_mut().poll(cx);
            let took = started.elapsed();
            drop(long);
            used += took;
            let charge = if route.demoted.load(Ordering::Relaxed) {
                DEMOTED_CHARGE
            } else {
                1
            };
            share.pass.fetch_add(
                took.as_nanos() as u64 * charge / share.weight,
                Ordering::Relaxed,
            );
            let mut state = self.lock();
            ticket.reserved = false;
            if polled.is_pending() && yielded.swap(false, Ordering::AcqRel) {
                // Wants the CPU again (its wake-up is deferred): queue, then let the
                // furthest-behind waiter have the slot, which may be itself.
                let arrival = ticket.arrival.expect("a running evaluation has arrived");
                let order = (arrival, true, used >= SHORT);
                ticket.id = Some(state.enqueue(share, order, cx.waker(), true));
            }
            state.hand_over_or_free();
            polled
        })
        .await;
        let nanos = used.as_nanos() as u64;
        share.cpu_nanos.fetch_add(nanos, Ordering::Relaxed);
        route.record(nanos);
        output
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Queues an evaluation of `share`'s tenant for a slot, with its arrival and whether it has
    /// started and is long already; returns its ticket.
    fn enqueue(
        &mut self,
        share: &Arc<Share>,
        (arrival, started, long): (u64, bool, bool),
        waker: &Waker,
        wake_pending: bool,
    ) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.push(Waiting {
            ticket,
            arrival,
            started,
            long,
            share: share.clone(),
            waker: waker.clone(),
            wake_pending,
        });
        ticket
    }

    /// Hands the slot just given back to the waiting evaluation whose tenant is furthest
    /// behind (its short calls first, then its oldest), waking it unless it is about to be
    /// polled anyway, or frees the slot.
    fn hand_over_or_free(&mut self) {
        let next = self
            .waiting
            .iter()
            .enumerate()
            .min_by_key(|(_, waiting)| {
                let pass = waiting.share.pass.load(Ordering::Relaxed);
                let started = waiting.share.started.load(Ordering::Relaxed);
                let class = match (waiting.started, waiting.long) {
                    (true, false) => 0,
                    (true, true) => 1,
                    (false, _) if started < self.started_limit => 0,
                    (false, _) => 2,
                };
                let head_start = if class == 0 {
                    SHORT.as_nanos() as u64 / waiting.share.weight
                } else {
                    0
                };
                (pass.saturating_sub(head_start), class, waiting.arrival)
            })
            .map(|(index, _)| index);
        let Some(index) = next else {
            self.free += 1;
            return;
        };
        let waiting = self.waiting.remove(index);
        self.virtual_time = self
            .virtual_time
            .max(waiting.share.pass.load(Ordering::Relaxed));
        self.granted.push((waiting.ticket, waiting.wake_pending));
        if !waiting.wake_pending {
            waiting.waker.wake();
        }
    }
}

/// A poll of a long evaluation, listed while this lives. (Listed under the scheduler's lock, once
/// per slice of a long evaluation, so that a waiting call sees exactly whose are running: with
/// counters, a tenant alone could catch its own poll between two of them and preempt itself.)
struct LongPoll<'a> {
    scheduler: &'a Scheduler,
    tenant: usize,
}

impl<'a> LongPoll<'a> {
    fn new(scheduler: &'a Scheduler, share: &Arc<Share>) -> Self {
        let tenant = Arc::as_ptr(share) as usize;
        scheduler.lock().long_polls.push(tenant);
        LongPoll { scheduler, tenant }
    }
}

impl Drop for LongPoll<'_> {
    fn drop(&mut self) {
        let mut state = self.scheduler.lock();
        if let Some(at) = state.long_polls.iter().position(|&t| t == self.tenant) {
            state.long_polls.swap_remove(at);
        }
    }
}

/// An evaluation counted among its tenant's started ones while this lives.
struct Started<'a>(&'a Share);

impl<'a> Started<'a> {
    fn new(share: &'a Share) -> Self {
        share.started.fetch_add(1, Ordering::AcqRel);
        Started(share)
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.0.started.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One evaluation's place in the queue for a run slot, if it has one.
struct Ticket<'a> {
    scheduler: &'a Scheduler,
    id: Option<u64>,
    /// When the evaluation first asked for a slot.
    arrival: Option<u64>,
    /// Holds a slot it was handed, while yielding once before using it.
    reserved: bool,
}

impl Ticket<'_> {
    /// Takes a run slot for the next poll: one handed over while waiting, a free one when no
    /// one waits, or else joins the queue as what the evaluation is: whether it has `started`
    /// and is `long` already (one resuming after a host call may be both).
    fn take_slot(
        &mut self,
        share: &Arc<Share>,
        (started, long): (bool, bool),
        cx: &Context<'_>,
    ) -> Take {
        let mut state = self.scheduler.lock();
        let arrival = *self.arrival.get_or_insert_with(|| {
            state.next_arrival += 1;
            state.next_arrival
        });
        if let Some(id) = self.id {
            if let Some(at) = state.granted.iter().position(|&(t, _)| t == id) {
                let (_, wake_was_pending) = state.granted.swap_remove(at);
                self.id = None;
                if wake_was_pending {
                    return Take::Run;
                }
                self.reserved = true;
                return Take::YieldThenRun;
            }
            // Still waiting; any pending wake-up has now been used, so it must be woken.
            if let Some(waiting) = state.waiting.iter_mut().find(|w| w.ticket == id) {
                waiting.waker.clone_from(cx.waker());
                waiting.wake_pending = false;
            }
            return Take::Wait;
        }
        if state.free > 0 && state.waiting.is_empty() {
            state.free -= 1;
            return Take::Run;
        }
        self.id = Some(state.enqueue(share, (arrival, started, long), cx.waker(), false));
        let own = Arc::as_ptr(share) as usize;
        if let Some(preempt) = &self.scheduler.preempt
            && state.long_polls.iter().any(|&tenant| tenant != own)
        {
            let now = Instant::now();
            if state
                .preempted_at
                .is_none_or(|at| now - at >= PREEMPTION_GAP)
            {
                state.preempted_at = Some(now);
                drop(state);
                preempt();
            }
        }
        Take::Wait
    }
}

impl Drop for Ticket<'_> {
    /// An evaluation dropped while waiting (its deadline passed) leaves the queue, and passes
    /// on a slot it was handed but never used.
    fn drop(&mut self) {
        if self.id.is_none() && !self.reserved {
            return;
        }
        let mut state = self.scheduler.lock();
        if let Some(id) = self.id {
            state.waiting.retain(|waiting| waiting.ticket != id);
            if let Some(at) = state.granted.iter().position(|&(t, _)| t == id) {
                state.granted.swap_remove(at);
                state.hand_over_or_free();
            }
        } else if self.reserved {
            state.hand_over_or_free();
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.share
            .demand_nanos
            .fetch_sub(self.estimate, Ordering::AcqRel);
        if self.share.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.scheduler
                .active_weight
                .fetch_sub(self.share.weight, Ordering::AcqRel);
        }
    }
}

impl Share {
    pub fn new(weight: u64) -> Self {
        Share {
            weight: weight.max(1),
            pass: AtomicU64::new(0),
            cpu_nanos: AtomicU64::new(0),
            demand_nanos: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            started: AtomicU64::new(0),
        }
    }

    pub fn weight(&self) -> u64 {
        self.weight
    }

    /// CPU used by the tenant's evaluations so far.
    pub fn cpu(&self) -> Duration {
        Duration::from_nanos(self.cpu_nanos.load(Ordering::Relaxed))
    }
}

impl RouteUsage {
    fn record(&self, nanos: u64) {
        self.cpu_nanos.fetch_add(nanos, Ordering::Relaxed);
        // An exponential moving average over about the last eight evaluations.
        let old = self.average_nanos.load(Ordering::Relaxed);
        let new = if old == 0 {
            nanos
        } else {
            old - old / 8 + nanos / 8
        };
        self.average_nanos.store(new, Ordering::Relaxed);
    }

    /// CPU used by the route's evaluations so far.
    pub fn cpu(&self) -> Duration {
        Duration::from_nanos(self.cpu_nanos.load(Ordering::Relaxed))
    }

    /// The CPU an evaluation of the route takes, on average lately.
    pub fn average(&self) -> Duration {
        Duration::from_nanos(self.average_nanos.load(Ordering::Relaxed))
    }

    /// Demotes the route (its last counted call failed expensively) or lifts the demotion.
    pub fn set_demoted(&self, demoted: bool) {
        if self.demoted.load(Ordering::Relaxed) != demoted {
            self.demoted.store(demoted, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Burns CPU in polls of about `slice` for `wall` time, yielding in between like a guest at
    /// its epoch ticks.
    async fn burn(wall: Duration, slice: Duration, yielded: &AtomicBool) {
        let started = Instant::now();
        while started.elapsed() < wall {
            let slice_start = Instant::now();
            while slice_start.elapsed() < slice {
                std::hint::spin_loop();
            }
            yielded.store(true, Ordering::Release);
            tokio::task::yield_now().await;
        }
    }

    /// Runs four CPU-bound calls (400 ms each, 200 µs slices) for each of `callers` at once on
    /// one slot, until all have finished.
    async fn contend(callers: [(&Arc<Share>, &Arc<RouteUsage>); 2]) {
        let scheduler = Arc::new(Scheduler::new(1));
        let mut tasks = Vec::new();
        for (share, route) in callers {
            for _ in 0..4 {
                let (scheduler, share, route) = (scheduler.clone(), share.clone(), route.clone());
                tasks.push(tokio::spawn(async move {
                    let yielded = AtomicBool::new(false);
                    let work = burn(
                        Duration::from_millis(400),
                        Duration::from_micros(200),
                        &yielded,
                    );
                    scheduler.run(&share, &route, &yielded, work).await;
                }));
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tenants_share_the_cpu_in_proportion_to_their_weights() {
        let heavy = Arc::new(Share::new(3));
        let light = Arc::new(Share::new(1));
        let route = Arc::new(RouteUsage::default());
        contend([(&heavy, &route), (&light, &route)]).await;
        let ratio = heavy.cpu().as_secs_f64() / light.cpu().as_secs_f64();
        assert!(
            (2.4..3.6).contains(&ratio),
            "weight 3 against 1 got {ratio:.2}× the CPU"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_demoted_route_gets_a_quarter_of_a_peers_share() {
        let (failing, healthy) = (Arc::new(Share::new(1)), Arc::new(Share::new(1)));
        let demoted = Arc::new(RouteUsage::default());
        demoted.set_demoted(true);
        contend([(&failing, &demoted), (&healthy, &Arc::default())]).await;
        let ratio = healthy.cpu().as_secs_f64() / failing.cpu().as_secs_f64();
        assert!(
            (3.0..5.0).contains(&ratio),
            "the healthy route got {ratio:.2}× the demoted one's CPU"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_burst_starts_only_twice_as_many_calls_as_there_are_slots() {
        let scheduler = Arc::new(Scheduler::new(1));
        let share = Arc::new(Share::new(1));
        let route = Arc::new(RouteUsage::default());
        // Calls that have begun and not finished, and the most there were at once.
        let begun = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (scheduler, share, route) = (scheduler.clone(), share.clone(), route.clone());
            let (begun, most) = (begun.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let yielded = AtomicBool::new(false);
                let work = async {
                    most.fetch_max(begun.fetch_add(1, Ordering::AcqRel) + 1, Ordering::AcqRel);
                    burn(
                        Duration::from_millis(20),
                        Duration::from_micros(200),
                        &yielded,
                    )
                    .await;
                    begun.fetch_sub(1, Ordering::AcqRel);
                };
                scheduler.run(&share, &route, &yielded, work).await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let most = most.load(Ordering::Acquire);
        assert!(
            most <= 2,
            "{most} calls held an instance at once with one slot"
        );
    }

    /// Queues a waiting evaluation of `share` straight into `state`; returns its ticket.
    fn queue(state: &mut State, share: &Arc<Share>, started: bool, long: bool) -> u64 {
        state.next_arrival += 1;
        let order = (state.next_arrival, started, long);
        state.enqueue(share, order, std::task::Waker::noop(), true)
    }

    #[test]
    fn a_short_call_goes_before_another_tenants_long_one_unless_its_tenant_is_far_ahead() {
        let (quick, looping) = (Arc::new(Share::new(1)), Arc::new(Share::new(1)));
        let granted = |quick_pass: Duration| {
            let mut state = State {
                started_limit: 2,
                ..State::default()
            };
            quick
                .pass
                .store(quick_pass.as_nanos() as u64, Ordering::Relaxed);
            looping.pass.store(10_000_000, Ordering::Relaxed);
            let long = queue(&mut state, &looping, true, true);
            let short = queue(&mut state, &quick, false, false);
            state.hand_over_or_free();
            match state.granted[..] {
                [(ticket, _)] if ticket == short => "short",
                [(ticket, _)] if ticket == long => "long",
                _ => unreachable!("one waiter is granted the slot"),
            }
        };
        // Behind, or ahead by less than its head start: the short call runs first.
        assert_eq!(granted(Duration::from_millis(9)), "short");
        assert_eq!(granted(Duration::from_millis(11)), "short");
        // Ahead by more than SHORT: the long call's tenant is owed the slot.
        assert_eq!(granted(Duration::from_millis(13)), "long");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_evaluation_resuming_after_a_host_call_queues_as_started_and_long() {
        let scheduler = Arc::new(Scheduler::new(1));
        let share = Arc::new(Share::new(1));
        let host_call = Arc::new(tokio::sync::Notify::new());
        let evaluation = tokio::spawn({
            let (scheduler, share, host_call) =
                (scheduler.clone(), share.clone(), host_call.clone());
            async move {
                let yielded = AtomicBool::new(false);
                let work = async {
                    // One slice past SHORT, then a host call: pending without yielding, so
                    // the slot is given back without queueing.
                    let slice = Instant::now();
                    while slice.elapsed() < SHORT + Duration::from_millis(1) {
                        std::hint::spin_loop();
                    }
                    host_call.notified().await;
                };
                let route = RouteUsage::default();
                scheduler.run(&share, &route, &yielded, work).await;
            }
        });
        while share.started.load(Ordering::Acquire) == 0 || scheduler.lock().free == 0 {
            tokio::task::yield_now().await;
        }
        // The slot is taken meanwhile, so the evaluation must queue when its host call returns.
        scheduler.lock().free = 0;
        host_call.notify_one();
        let queued = loop {
            tokio::task::yield_now().await;
            if let Some(waiting) = scheduler.lock().waiting.first() {
                break (waiting.started, waiting.long);
            }
        };
        evaluation.abort();
        // Not as a new call: that would go behind its tenant's started calls once the tenant
        // is at its started limit, and get a short call's head start while being long.
        assert_eq!(queued, (true, true), "queued as a new call");
    }

    /// Runs a long evaluation of `running` on the scheduler's only slot (it yields when
    /// preempted, as a guest does at its next epoch check), and meanwhile asks for a slot for a
    /// call of `waiting`; returns how many times the call preempted the running one.
    async fn preemptions(same_tenant: bool) -> u64 {
        let preempted = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let scheduler = {
            let (preempted, count) = (preempted.clone(), count.clone());
            Arc::new(Scheduler::new(1).with_preemption(Box::new(move || {
                count.fetch_add(1, Ordering::AcqRel);
                preempted.store(true, Ordering::Release);
            })))
        };
        let running = Arc::new(Share::new(1));
        let waiting = if same_tenant {
            running.clone()
        } else {
            Arc::new(Share::new(1))
        };
        let route = Arc::new(RouteUsage::default());
        let long = {
            let (scheduler, running, route) = (scheduler.clone(), running.clone(), route.clone());
            tokio::spawn(async move {
                let yielded = AtomicBool::new(false);
                let work = async {
                    // A first slice past SHORT, then one that runs until it is preempted (or
                    // 500 ms at most).
                    burn(SHORT + Duration::from_millis(1), SHORT * 2, &yielded).await;
                    let slice = Instant::now();
                    while !preempted.swap(false, Ordering::AcqRel)
                        && slice.elapsed() < Duration::from_millis(500)
                    {
                        std::hint::spin_loop();
                    }
                };
                scheduler.run(&running, &route, &yielded, work).await;
            })
        };
        // Well into the second slice.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let yielded = AtomicBool::new(false);
        scheduler.run(&waiting, &route, &yielded, async {}).await;
        long.await.unwrap();
        count.load(Ordering::Acquire)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_waiting_beside_another_tenants_long_evaluation_preempts_it() {
        assert_eq!(preemptions(false).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tenant_never_preempts_its_own_long_evaluation() {
        assert_eq!(preemptions(true).await, 0);
    }

    #[test]
    fn a_tenant_with_nothing_in_flight_is_always_admitted() {
        let scheduler = Scheduler::new(2);
        let share = Share::new(1);
        let route = RouteUsage::default();
        route.record(Duration::from_secs(10).as_nanos() as u64);
        let first = scheduler.admit(&share, &route, Duration::from_millis(1));
        assert!(first.is_ok(), "an idle machine never throttles");
        let second = scheduler.admit(&share, &route, Duration::from_millis(1));
        assert_eq!(
            second.err(),
            Some(Throttled),
            "10 s of work cannot fit in 1 ms"
        );
        drop(first);
        assert!(
            scheduler
                .admit(&share, &route, Duration::from_millis(1))
                .is_ok()
        );
    }

    #[test]
    fn admission_counts_the_share_of_the_active_tenants() {
        let scheduler = Scheduler::new(2);
        let (a, b) = (Share::new(1), Share::new(1));
        let route = RouteUsage::default();
        route.record(Duration::from_millis(40).as_nanos() as u64);
        let budget = Duration::from_millis(120);
        // Alone, `a` gets both slots: 4 calls × 40 ms / 2 slots = 80 ms fits in 3/4 of 120 ms.
        let alone: Vec<_> = (0..4)
            .map(|_| scheduler.admit(&a, &route, budget))
            .collect();
        assert!(alone.iter().all(Result::is_ok));
        drop(alone);
        // Beside `b`, `a` gets one slot: only two calls fit.
        let _b = scheduler.admit(&b, &route, budget).unwrap();
        let shared: Vec<_> = (0..4)
            .map(|_| scheduler.admit(&a, &route, budget))
            .collect();
        assert_eq!(shared.iter().filter(|a| a.is_ok()).count(), 2);
    }
}
