//! Log output: human-readable lines by default, JSON lines with `--log-format json`, filtered by
//! `RUST_LOG` (default `info`). Logs go to stderr so that `wasmhook eval` keeps stdout for the answer.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // The OCI client logs a registry's token answers (bearer tokens) at debug level: never
    // below info, whatever `RUST_LOG` says.
    let filter = filter.add_directive("oci_client=info".parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only for a person at a terminal, not escape codes in a journal or a file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
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
}
