use std::process::ExitCode;

use clap::Parser;
use wasmhook::cli::{self, Cli};

// mimalloc: every request allocates and frees many small buffers (JSON, strings lowered into
// the guest, wasmtime's per-store state); glibc's malloc was a fifth of an evaluation's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    wasmhook::telemetry::init(cli.log_format, cli.command.default_log_level());
    match cli::run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
