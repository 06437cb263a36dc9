//! Log output: human-readable lines by default, JSON lines with `--log-format json`, filtered by
//! `RUST_LOG` (default `info`). Logs go to stderr so that `wasmhook eval` keeps stdout for the answer.
//!
//! The server writes its lines from a thread of its own ([`background`]): a call formats its line
//! and hands it over, and the thread writes whatever has accumulated in one system call. Written
//! from the request threads, every line was a `write` under stderr's lock, and the two workers
//! took turns on that lock (futex waits and context switches, a tenth of the server's samples).
//! Nothing is dropped: when the thread falls 128,000 lines behind, calls wait for it, as they did
//! for stderr itself. The command-line tools write directly, so their lines and their own output
//! on stderr keep their order.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where log lines go: straight to stderr, or through [`background`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Direct,
    Background,
}

/// Installs the subscriber. With [`Output::Background`], the returned guard flushes the lines
/// still queued when it is dropped: keep it until the process ends.
pub fn init(format: LogFormat, default_level: &str, output: Output) -> Option<WorkerGuard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // The OCI client logs a registry's token answers (bearer tokens) at debug level: never
    // below info, whatever `RUST_LOG` says.
    let filter = filter.add_directive("oci_client=info".parse().expect("a valid directive"));
    let (writer, guard) = match output {
        Output::Direct => (
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
            None,
        ),
        Output::Background => {
            let (writer, guard) = background(std::io::stderr());
            (
                tracing_subscriber::fmt::writer::BoxMakeWriter::new(writer),
                Some(guard),
            )
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only for a person at a terminal, not escape codes in a journal or a file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // The call's span (tenant, eventId, hook, rule, decision) on every line, once: spans
        // are never nested here, so the list of enclosing spans would only repeat it.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    guard
}

/// Lets a line that would repeat on every call through at most once a [`LINE_EVERY`], counting
/// the occurrences in between: a route shedding load (its breaker open, its tenant over its
/// share) is busiest exactly when the machine is, and a `warn` line per call turned away would
/// add to the load it sheds. The metrics count every call.
#[derive(Default)]
pub struct RepeatedLine {
    /// When the last line went out, and the occurrences since then.
    state: std::sync::Mutex<(Option<Instant>, u64)>,
}

/// The least time between two lines of a [`RepeatedLine`].
pub const LINE_EVERY: Duration = Duration::from_secs(1);

impl RepeatedLine {
    /// Counts one occurrence; `Some(occurrences)` since the last line (this one included) when
    /// a line is due now, `None` when it is held back.
    pub fn occurred(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (last, count) = &mut *state;
        *count += 1;
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < LINE_EVERY) {
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(count))
    }
}

/// A writer that hands each line to a thread of its own, which writes them to `out` in batches
/// (through a 64 KiB buffer, flushed whenever no line is waiting). Never drops a line.
pub fn background<W: std::io::Write + Send + 'static>(out: W) -> (NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("wasmhook-log")
        .finish(std::io::BufWriter::with_capacity(64 << 10, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_line_goes_out_at_once_then_at_most_once_a_second_with_the_count() {
        let line = RepeatedLine::default();
        assert_eq!(line.occurred(), Some(1), "the first occurrence is logged");
        assert_eq!(line.occurred(), None);
        assert_eq!(line.occurred(), None);
        std::thread::sleep(LINE_EVERY + Duration::from_millis(50));
        assert_eq!(line.occurred(), Some(3), "the held-back two and this one");
        assert_eq!(line.occurred(), None);
    }
}
