//! The event queue on disk: every acknowledged event until its rule has handled it, the dead
//! letters, and what was already seen (for de-duplication), in one redb file.
//!
//! Why redb: an embedded store in pure Rust (nothing to install or run beside the server, no C to
//! build), with ACID transactions whose commit is durable when it returns (`Durability::Immediate`
//! fsyncs), copy-on-write pages so that a crash at any moment leaves the last commit intact, and
//! a file lock so that two servers never share one queue. SQLite would do the same behind a C
//! library and SQL text; a queue needs ordered keys and atomic batches, which redb gives directly.
//!
//! Acknowledging is a commit with `Immediate` durability: Okta gets its 200 only once the events
//! are on disk. Finishing an event (or burying it) is durable too, so that after a crash only the
//! events whose rule was running run again. Counting a failed attempt is not (`None`, persisted
//! by the next durable commit): a crash may cost an event one attempt more, nothing else. An
//! in-memory index mirrors the pending table (which events are due, in flight, how many per
//! tenant), so the worker never scans the file; the file is written outside the index's lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::hooks::event::{Delivery, Queued};

/// Events waiting for their rule, by sequence number (the order they were acknowledged in).
const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending");
/// Events whose last attempt failed, by the sequence number they had.
const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
/// Delivery ids and event uuids already acknowledged, per tenant, with when (ms since the epoch).
const SEEN: TableDefinition<&str, u64> = TableDefinition::new("seen");
/// The next sequence number.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const NEXT_SEQUENCE: &str = "next_sequence";

/// How long a delivery id or event uuid is remembered: far beyond Okta's one retry, which comes
/// within minutes.
const SEEN_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// One queued event with everything needed to run its rule and to report on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub tenant: String,
    pub uuid: String,
    pub event_type: String,
    pub published: String,
    /// The event's JSON text as Okta sent it.
    pub raw: String,
    pub delivery: Delivery,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the event was acknowledged, ms since the epoch.
    pub queued_at_ms: u64,
    /// For a dead letter: the kind of the last failure (`rule_error`, `deadline`, …).
    #[serde(default)]
    pub last_failure: Option<String>,
}

impl Record {
    pub fn queued(&self) -> Queued {
        Queued {
            uuid: self.uuid.clone(),
            event_type: self.event_type.clone(),
            published: self.published.clone(),
            raw: self.raw.clone(),
        }
    }
}

/// Why a delivery was not acknowledged (answered 503, so that Okta retries).
#[derive(Debug, thiserror::Error)]
pub enum NotQueued {
    #[error("the tenant's queue is full ({0} events wait)")]
    Full(u64),
    #[error("the queue could not be written: {0}")]
    Store(#[from] redb::Error),
}

/// What a delivery added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enqueued {
    pub queued: usize,
    /// Events already acknowledged before (by uuid), or all of them when the delivery id was.
    pub duplicates: usize,
    pub duplicate_delivery: bool,
}

/// A pending event as the index knows it.
#[derive(Debug, Clone)]
struct Entry {
    tenant: Arc<str>,
    queued_at_ms: u64,
    /// When it may run next, ms since the epoch.
    due_ms: u64,
    in_flight: bool,
}

#[derive(Default)]
struct Index {
    pending: BTreeMap<u64, Entry>,
    /// Pending events waiting to be due, by when they are due (then oldest first).
    waiting: BTreeSet<(u64, u64)>,
    /// Pending events that are due and not in flight, oldest first: what the worker takes
    /// next, without looking at every pending event.
    ready: BTreeSet<u64>,
    per_tenant: HashMap<Arc<str>, u64>,
    dead_per_tenant: HashMap<String, u64>,
}

impl Index {
    /// A new pending event, due at its `due_ms`.
    fn insert(&mut self, sequence: u64, entry: Entry) {
        *self.per_tenant.entry(entry.tenant.clone()).or_default() += 1;
        self.waiting.insert((entry.due_ms, sequence));
        self.pending.insert(sequence, entry);
    }

    /// An event in flight is due again at `due_ms` (after a failure, or when its outcome could
    /// not be recorded).
    fn schedule(&mut self, sequence: u64, due_ms: u64) {
        if let Some(entry) = self.pending.get_mut(&sequence)
            && entry.in_flight
        {
            entry.in_flight = false;
            entry.due_ms = due_ms;
            self.waiting.insert((due_ms, sequence));
        }
    }

    /// Up to `limit` due events, oldest first, now in flight.
    fn take_due(&mut self, now: u64, limit: usize) -> Vec<u64> {
        while let Some(&(due, sequence)) = self.waiting.first()
            && due <= now
        {
            self.waiting.pop_first();
            self.ready.insert(sequence);
        }
        let mut taken = Vec::new();
        while taken.len() < limit
            && let Some(sequence) = self.ready.pop_first()
        {
            if let Some(entry) = self.pending.get_mut(&sequence) {
                entry.in_flight = true;
                taken.push(sequence);
            }
        }
        taken
    }

    fn remove(&mut self, sequence: u64) {
        let Some(entry) = self.pending.remove(&sequence) else {
            return;
        };
        if !entry.in_flight {
            self.ready.remove(&sequence);
            self.waiting.remove(&(entry.due_ms, sequence));
        }
        if let Some(count) = self.per_tenant.get_mut(&entry.tenant) {
            *count -= 1;
            if *count == 0 {
                self.per_tenant.remove(&entry.tenant);
            }
        }
    }

    fn tenant_key(&self, tenant: &str) -> Arc<str> {
        self.per_tenant
            .get_key_value(tenant)
            .map_or_else(|| Arc::from(tenant), |(key, _)| key.clone())
    }
}

/// What the queue holds for one tenant, for metrics and the admin status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantQueue {
    pub queued: u64,
    /// Age of the oldest queued event.
    pub oldest_age: Option<Duration>,
    pub dead_letters: u64,
}

/// The queue: the redb file and its in-memory index.
pub struct Queue {
    db: Database,
    path: PathBuf,
    index: Mutex<Index>,
}

impl Queue {
    /// Opens (or creates) the queue at `path`, and indexes what it holds: events acknowledged
    /// before a stop or a crash are pending again, due at once.
    pub fn open(path: &Path) -> Result<Queue, redb::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(redb::StorageError::from)?;
        }
        let db = Database::create(path)?;
        let write = db.begin_write()?;
        write.open_table(PENDING)?;
        write.open_table(DEAD)?;
        write.open_table(SEEN)?;
        write.open_table(META)?;
        write.commit()?;

        let mut index = Index::default();
        let read = db.begin_read()?;
        for item in read.open_table(PENDING)?.iter()? {
            let (sequence, value) = item?;
            let Ok(record) = serde_json::from_slice::<Record>(value.value()) else {
                tracing::error!(
                    sequence = sequence.value(),
                    "unreadable event in the queue; left in place"
                );
                continue;
            };
            let entry = Entry {
                tenant: index.tenant_key(&record.tenant),
                queued_at_ms: record.queued_at_ms,
                due_ms: 0,
                in_flight: false,
            };
            index.insert(sequence.value(), entry);
        }
        for item in read.open_table(DEAD)?.iter()? {
            let (_, value) = item?;
            if let Ok(record) = serde_json::from_slice::<Record>(value.value()) {
                *index.dead_per_tenant.entry(record.tenant).or_default() += 1;
            }
        }
        drop(read);
        let queue = Queue {
            db,
            path: path.to_owned(),
            index: Mutex::new(index),
        };
        queue.forget_old_ids()?;
        Ok(queue)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `events` of `tenant`'s `delivery` durably, skipping a delivery id or event uuid
    /// already seen, unless the tenant already has `max_queued` events waiting. Blocking: call it
    /// off the async threads.
    pub fn enqueue(
        &self,
        tenant: &str,
        delivery: &Delivery,
        events: &[Queued],
        max_queued: u64,
    ) -> Result<Enqueued, NotQueued> {
        let now = now_ms();
        // Deliveries racing for a tenant's last places may overshoot the cap by one delivery.
        let waiting = self.index().per_tenant.get(tenant).copied().unwrap_or(0);
        let write = self.db.begin_write().map_err(redb::Error::from)?;
        let mut added = Vec::new();
        let mut enqueued = Enqueued::default();
        {
            let mut seen = write.open_table(SEEN).map_err(redb::Error::from)?;
            let delivery_key =
                (!delivery.event_id.is_empty()).then(|| seen_key(tenant, 'd', &delivery.event_id));
            if let Some(key) = &delivery_key
                && seen.get(key.as_str()).map_err(redb::Error::from)?.is_some()
            {
                return Ok(Enqueued {
                    duplicates: events.len(),
                    duplicate_delivery: true,
                    ..Enqueued::default()
                });
            }
            let mut pending = write.open_table(PENDING).map_err(redb::Error::from)?;
            let mut meta = write.open_table(META).map_err(redb::Error::from)?;
            let mut sequence = meta
                .get(NEXT_SEQUENCE)
                .map_err(redb::Error::from)?
                .map_or(0, |v| v.value());
            for event in events {
                let key = seen_key(tenant, 'e', &event.uuid);
                if seen.get(key.as_str()).map_err(redb::Error::from)?.is_some() {
                    enqueued.duplicates += 1;
                    continue;
                }
                if waiting + added.len() as u64 >= max_queued {
                    return Err(NotQueued::Full(waiting));
                }
                seen.insert(key.as_str(), now).map_err(redb::Error::from)?;
                let record = Record {
                    tenant: tenant.to_owned(),
                    uuid: event.uuid.clone(),
                    event_type: event.event_type.clone(),
                    published: event.published.clone(),
                    raw: event.raw.clone(),
                    delivery: delivery.clone(),
                    attempts: 0,
                    queued_at_ms: now,
                    last_failure: None,
                };
                let bytes = serde_json::to_vec(&record).expect("a record serialises");
                pending
                    .insert(sequence, bytes.as_slice())
                    .map_err(redb::Error::from)?;
                added.push(sequence);
                sequence += 1;
            }
            meta.insert(NEXT_SEQUENCE, sequence)
                .map_err(redb::Error::from)?;
            if let Some(key) = &delivery_key {
                seen.insert(key.as_str(), now).map_err(redb::Error::from)?;
            }
        }
        write.commit().map_err(redb::Error::from)?;
        enqueued.queued = added.len();
        let mut index = self.index();
        let tenant_key = index.tenant_key(tenant);
        for sequence in added {
            let entry = Entry {
                tenant: tenant_key.clone(),
                queued_at_ms: now,
                due_ms: now,
                in_flight: false,
            };
            index.insert(sequence, entry);
        }
        Ok(enqueued)
    }

    /// Takes up to `limit` events that are due, oldest first, marking them in flight; also
    /// returns when the next event not yet due will be (ms since the epoch).
    pub fn take_due(&self, limit: usize) -> (Vec<u64>, Option<u64>) {
        let mut index = self.index();
        let taken = index.take_due(now_ms(), limit);
        let next_due = index.waiting.first().map(|&(due, _)| due);
        (taken, next_due)
    }

    /// The record of a pending event.
    pub fn get(&self, sequence: u64) -> Result<Option<Record>, redb::Error> {
        let read = self.db.begin_read()?;
        let pending = read.open_table(PENDING)?;
        let Some(value) = pending.get(sequence)? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(value.value()).ok())
    }

    /// The event is handled: it leaves the queue.
    pub fn finish(&self, sequence: u64) -> Result<(), redb::Error> {
        let write = self.db.begin_write()?;
        write.open_table(PENDING)?.remove(sequence)?;
        write.commit()?;
        self.index().remove(sequence);
        Ok(())
    }

    /// An attempt at the event failed: it runs again after `pause`, counting the attempt.
    pub fn retry(
        &self,
        sequence: u64,
        mut record: Record,
        pause: Duration,
    ) -> Result<(), redb::Error> {
        record.attempts += 1;
        let bytes = serde_json::to_vec(&record).expect("a record serialises");
        let mut write = self.db.begin_write()?;
        // Losing the count to a crash costs one attempt more; losing the event is impossible.
        write.set_durability(Durability::None)?;
        write
            .open_table(PENDING)?
            .insert(sequence, bytes.as_slice())?;
        write.commit()?;
        self.index()
            .schedule(sequence, now_ms() + pause.as_millis() as u64);
        Ok(())
    }

    /// The last attempt at the event failed, for `failure`: it moves to the dead letters.
    pub fn bury(
        &self,
        sequence: u64,
        mut record: Record,
        failure: &str,
    ) -> Result<(), redb::Error> {
        record.attempts += 1;
        record.last_failure = Some(failure.to_owned());
        let bytes = serde_json::to_vec(&record).expect("a record serialises");
        let write = self.db.begin_write()?;
        write.open_table(PENDING)?.remove(sequence)?;
        write.open_table(DEAD)?.insert(sequence, bytes.as_slice())?;
        write.commit()?;
        let mut index = self.index();
        index.remove(sequence);
        *index.dead_per_tenant.entry(record.tenant).or_default() += 1;
        Ok(())
    }

    /// The event could not be read: it stays pending, and is due again after `pause`.
    pub fn postpone(&self, sequence: u64, pause: Duration) {
        self.index()
            .schedule(sequence, now_ms() + pause.as_millis() as u64);
    }

    /// The event is no longer in the queue's index (it was handled, or its record is gone): lets
    /// it go without touching the file.
    pub fn release(&self, sequence: u64) {
        self.index().remove(sequence);
    }

    /// The latest dead letters (newest first), at most `limit`.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<Record>, redb::Error> {
        let read = self.db.begin_read()?;
        let dead = read.open_table(DEAD)?;
        let mut letters = Vec::new();
        for item in dead.iter()?.rev().take(limit) {
            let (_, value) = item?;
            if let Ok(record) = serde_json::from_slice(value.value()) {
                letters.push(record);
            }
        }
        Ok(letters)
    }

    /// Per tenant: events waiting, the oldest one's age, dead letters.
    pub fn per_tenant(&self) -> BTreeMap<String, TenantQueue> {
        let now = now_ms();
        let index = self.index();
        let mut tenants: BTreeMap<String, TenantQueue> = BTreeMap::new();
        for entry in index.pending.values() {
            let queue = tenants.entry(entry.tenant.to_string()).or_default();
            queue.queued += 1;
            let age = Duration::from_millis(now.saturating_sub(entry.queued_at_ms));
            queue.oldest_age = Some(queue.oldest_age.map_or(age, |oldest| oldest.max(age)));
        }
        for (tenant, dead) in &index.dead_per_tenant {
            tenants.entry(tenant.clone()).or_default().dead_letters = *dead;
        }
        tenants
    }

    /// Forgets delivery ids and uuids older than [`SEEN_RETENTION`].
    pub fn forget_old_ids(&self) -> Result<(), redb::Error> {
        let cutoff = now_ms().saturating_sub(SEEN_RETENTION.as_millis() as u64);
        let write = self.db.begin_write()?;
        write.open_table(SEEN)?.retain(|_, seen| seen >= cutoff)?;
        write.commit()?;
        Ok(())
    }
}

/// `tenant`, a kind (`d` delivery, `e` event) and the id, separated by a byte neither may hold.
fn seen_key(tenant: &str, kind: char, id: &str) -> String {
    format!("{tenant}\n{kind}\n{id}")
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasmhook-queue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.redb"));
        let _ = std::fs::remove_file(&path);
        path
    }

    fn event(uuid: &str) -> Queued {
        Queued {
            uuid: uuid.into(),
            event_type: "user.lifecycle.create".into(),
            published: "2024-01-01T00:00:00Z".into(),
            raw: format!(r#"{{"uuid":"{uuid}"}}"#),
        }
    }

    fn delivery(id: &str) -> Delivery {
        Delivery {
            event_id: id.into(),
            ..Delivery::default()
        }
    }

    #[test]
    fn a_delivery_or_an_event_seen_before_is_queued_once_per_tenant() {
        let queue = Queue::open(&path("dedup")).unwrap();
        let first = queue
            .enqueue("a", &delivery("d1"), &[event("u1"), event("u2")], 100)
            .unwrap();
        assert_eq!((first.queued, first.duplicates), (2, 0));
        let again = queue
            .enqueue("a", &delivery("d1"), &[event("u1"), event("u2")], 100)
            .unwrap();
        assert!(again.duplicate_delivery);
        assert_eq!(again.queued, 0);
        let overlapping = queue
            .enqueue("a", &delivery("d2"), &[event("u2"), event("u3")], 100)
            .unwrap();
        assert_eq!((overlapping.queued, overlapping.duplicates), (1, 1));
        // Another tenant's ids are its own.
        let other = queue
            .enqueue("b", &delivery("d1"), &[event("u1")], 100)
            .unwrap();
        assert_eq!(other.queued, 1);
        assert_eq!(queue.per_tenant()["a"].queued, 3);
        assert_eq!(queue.per_tenant()["b"].queued, 1);
    }

    #[test]
    fn a_full_tenant_queue_refuses_the_whole_delivery_and_keeps_nothing_of_it() {
        let queue = Queue::open(&path("full")).unwrap();
        queue
            .enqueue("a", &delivery("d1"), &[event("u1"), event("u2")], 3)
            .unwrap();
        let refused = queue.enqueue("a", &delivery("d2"), &[event("u3"), event("u4")], 3);
        assert!(matches!(refused, Err(NotQueued::Full(2))), "{refused:?}");
        // Nothing of the refused delivery was kept: Okta's retry is not taken for a duplicate.
        let retried = queue
            .enqueue("a", &delivery("d2"), &[event("u3")], 3)
            .unwrap();
        assert_eq!(retried.queued, 1);
        assert_eq!(queue.per_tenant()["a"].queued, 3);
        // Other tenants are not affected.
        assert!(
            queue
                .enqueue("b", &delivery("d9"), &[event("u9")], 3)
                .is_ok()
        );
    }

    #[test]
    fn pending_events_survive_a_reopen_and_finished_ones_do_not() {
        let file = path("reopen");
        {
            let queue = Queue::open(&file).unwrap();
            queue
                .enqueue(
                    "a",
                    &delivery("d1"),
                    &[event("u1"), event("u2"), event("u3")],
                    100,
                )
                .unwrap();
            let (taken, _) = queue.take_due(10);
            assert_eq!(taken.len(), 3);
            queue.finish(taken[0]).unwrap();
            let record = queue.get(taken[1]).unwrap().unwrap();
            queue.bury(taken[1], record, "rule_error").unwrap();
            // taken[2] is in flight when the "crash" comes.
        }
        let queue = Queue::open(&file).unwrap();
        let tenants = queue.per_tenant();
        assert_eq!(tenants["a"].queued, 1);
        assert_eq!(tenants["a"].dead_letters, 1);
        let (taken, _) = queue.take_due(10);
        assert_eq!(queue.get(taken[0]).unwrap().unwrap().uuid, "u3");
        let dead = queue.dead_letters(10).unwrap();
        assert_eq!(dead[0].uuid, "u2");
        assert_eq!(dead[0].attempts, 1);
        assert_eq!(dead[0].last_failure.as_deref(), Some("rule_error"));
        // The ids stay seen across the reopen.
        let again = queue
            .enqueue("a", &delivery("d3"), &[event("u1")], 100)
            .unwrap();
        assert_eq!(again.duplicates, 1);
    }

    #[test]
    fn a_retried_event_waits_for_its_pause_and_counts_the_attempt() {
        let queue = Queue::open(&path("retry")).unwrap();
        queue
            .enqueue("a", &delivery("d1"), &[event("u1")], 100)
            .unwrap();
        let (taken, _) = queue.take_due(10);
        let record = queue.get(taken[0]).unwrap().unwrap();
        queue
            .retry(taken[0], record, Duration::from_secs(60))
            .unwrap();
        let (now, next) = queue.take_due(10);
        assert!(now.is_empty());
        assert!(next.unwrap() > now_ms() + 50_000);
        assert_eq!(queue.get(taken[0]).unwrap().unwrap().attempts, 1);
    }

    #[test]
    fn a_queue_file_is_used_by_one_server_at_a_time() {
        let file = path("locked");
        let _first = Queue::open(&file).unwrap();
        assert!(Queue::open(&file).is_err());
    }
}
