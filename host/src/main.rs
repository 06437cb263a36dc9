use std::process::ExitCode;

use clap::Parser;
use wasmhook::cli::{self, Cli};

// mimalloc: every request allocates and frees many small buffers (JSON, strings lowered into
// the guest, wasmtime's per-store state); glibc's malloc was a fifth of an evaluation's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // With transparent huge pages, mimalloc's arenas become resident 2 MiB at a time: 30 MiB
    // more at start-up, and no faster (measured with benches/evaluation.rs).
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    let log = wasmhook::telemetry::init(
        cli.log_format,
        cli.command.default_log_level(),
        cli.command.log_output(),
    );
    let outcome = cli::run(cli.command).await;
    // The log lines still queued go out before the last word.
    drop(log);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
