use std::process::ExitCode;

use clap::Parser;
use wasmhook::cli::{self, Cli};

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
