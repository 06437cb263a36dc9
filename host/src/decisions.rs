//! The decision log: one JSON line per inline hook call answered and per attempt of an event
//! rule, for audit ("what did we answer Okta for this eventId, with which rule version?") and for
//! tools that read JSON lines, kept apart from the operational log (`decision_log = <file>`, or
//! `"-"` for stdout).
//!
//! A line holds identifiers, kinds and measurements only: time, tenant, Okta's eventId (an
//! event's uuid), hook type, route, rule name (its file's stem, as in the metrics) and sha256,
//! decision, failure kind, duration and fuel. Never a profile value, a password, a code or a
//! body: nothing Okta or a rule sent but the id, which the JSON writer escapes (a line cannot be
//! forged) and the log caps.
//!
//! Writing never slows a call: lines go through a bounded queue to a thread of their own that
//! writes and flushes them; when the queue is full (a stalled disk), lines are dropped and
//! counted in `wasmhook_decision_log_dropped_total` rather than held in memory or waited for.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

/// Lines waiting for the writer before new ones are dropped.
const QUEUE_LINES: usize = 16_384;
/// The longest id written; Okta's are ~40 characters.
const MAX_ID_CHARS: usize = 128;

/// Where decisions are written (`decision_log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// Appended to, created if missing.
    File(PathBuf),
}

/// One decision, as written.
#[derive(Debug, Serialize)]
pub struct Decision<'a> {
    pub tenant: &'a str,
    /// Okta's `eventId` (inline hooks) or the event's `uuid` (event hooks).
    pub event_id: &'a str,
    pub hook: &'a str,
    /// The route (event type and request type, or event pattern); `None` when no route matched.
    pub route: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub rule_sha256: Option<&'a str>,
    /// Inline hooks: what Okta was answered, `no-change`, `commands` or `deny`. Event rules:
    /// `handled`, `retry` or `dead-letter`.
    pub decision: &'a str,
    /// Why the rule's own decision was not used (`deadline`, `memory`, `throttled`, …,
    /// `unrouted` when no route matched, `rule_error` for an event rule's `err`).
    pub failure: Option<&'a str>,
    pub duration_us: u64,
    pub fuel: Option<u64>,
}

/// The decision log's writer.
pub struct DecisionLog {
    lines: SyncSender<Vec<u8>>,
    dropped: Counter,
}

impl DecisionLog {
    /// Opens `target` and starts its writer thread; lines dropped are added to `dropped`.
    pub fn open(target: &Target, dropped: Counter) -> std::io::Result<DecisionLog> {
        let out: Box<dyn Write + Send> = match target {
            Target::Stdout => Box::new(std::io::stdout()),
            Target::File(file) => {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(file)?,
                )
            }
        };
        let (lines, queued) = std::sync::mpsc::sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || write_lines(queued, out))?;
        Ok(DecisionLog { lines, dropped })
    }

    /// Queues `decision` for writing, stamped with the time now; drops it if the queue is full.
    pub fn record(&self, decision: &Decision<'_>) {
        #[derive(Serialize)]
        struct Line<'a> {
            time: String,
            #[serde(flatten)]
            decision: &'a Decision<'a>,
        }
        let capped = Decision {
            event_id: cap(decision.event_id),
            ..*decision
        };
        let line = Line {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            decision: &capped,
        };
        let mut bytes = serde_json::to_vec(&line).expect("a decision serialises");
        bytes.push(b'\n');
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.lines.try_send(bytes)
        {
            self.dropped.inc();
        }
    }
}

/// At most [`MAX_ID_CHARS`] characters of `id`.
fn cap(id: &str) -> &str {
    id.char_indices()
        .nth(MAX_ID_CHARS)
        .map_or(id, |(end, _)| &id[..end])
}

/// The writer thread: writes lines as they come, flushing whenever the queue is empty.
fn write_lines(queued: Receiver<Vec<u8>>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::new(out);
    let mut failed = false;
    while let Ok(line) = queued.recv() {
        let mut write = |line: Vec<u8>| {
            if let Err(error) = out.write_all(&line)
                && !failed
            {
                failed = true;
                tracing::error!(%error, "cannot write the decision log; its lines are lost until it can");
            }
        };
        write(line);
        while let Ok(line) = queued.recv_timeout(Duration::ZERO) {
            write(line);
        }
        match out.flush() {
            Ok(()) => failed = false,
            Err(error) if !failed => {
                failed = true;
                tracing::error!(%error, "cannot write the decision log; its lines are lost until it can");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_capped_on_a_character_boundary() {
        assert_eq!(cap("abc"), "abc");
        let long = "é".repeat(200);
        assert_eq!(cap(&long).chars().count(), MAX_ID_CHARS);
    }
}
