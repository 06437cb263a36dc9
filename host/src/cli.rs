//! The `wasmhook` command line: one module per verb (`serve`, `eval`, `test`, `new`, `push`, `check`), each a thin
//! layer over the library, so that what the server does and what the tools report agree.

mod check;
mod eval;
mod new;
mod push;
mod serve;
mod test;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;
pub use eval::EvalArgs;
pub use new::NewArgs;
pub use push::PushArgs;
pub use test::TestArgs;

#[derive(Debug, Parser)]
#[command(
    name = "wasmhook",
    version,
    about = "Okta inline hooks answered by sandboxed WebAssembly rules"
)]
pub struct Cli {
    /// Log line format (logs go to stderr).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "WASMHOOK_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Okta hook calls at POST /hooks/{tenant}.
    Serve {
        /// The configuration file (TOML).
        #[arg(long, env = "WASMHOOK_CONFIG")]
        config: PathBuf,
        /// Address to listen on; overrides the config's `listen`.
        #[arg(long, env = "WASMHOOK_LISTEN")]
        listen: Option<SocketAddr>,
        /// Serve `/metrics` and the detailed status on this address only (overrides the
        /// config's `admin_listen`); the hook listener then keeps hooks, `/healthz` and `/readyz`.
        #[arg(long, env = "WASMHOOK_ADMIN_LISTEN")]
        admin_listen: Option<SocketAddr>,
    },
    /// Evaluate a rule on a captured Okta request, offline, and print the body the server would send.
    Eval(EvalArgs),
    /// Run a rule against a table of cases, or compare two rules over captured requests.
    Test(TestArgs),
    /// Write a new rule project: the rule, its build script, cases and README, the WIT and the
    /// helpers, self-contained.
    New(NewArgs),
    /// Publish a rule to an OCI registry; prints the reference pinned to its digest.
    Push(PushArgs),
    /// Validate a configuration and compile every rule it uses.
    Check {
        /// The configuration file (TOML).
        #[arg(long, env = "WASMHOOK_CONFIG")]
        config: PathBuf,
    },
}

impl Command {
    /// The log level when `RUST_LOG` is unset: the server logs each call, the tools only
    /// problems, and `eval` also the rule's own lines (an author trying a rule wants them).
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve { .. } => "info",
            Command::Eval(_) => "warn,wasmhook::guest=trace",
            Command::Test(_) | Command::New(_) | Command::Push(_) | Command::Check { .. } => "warn",
        }
    }
}

impl Command {
    /// The server writes its log from a thread of its own; the tools directly, so that their
    /// log lines and what they print on stderr stay in order.
    pub fn log_output(&self) -> crate::telemetry::Output {
        match self {
            Command::Serve { .. } => crate::telemetry::Output::Background,
            _ => crate::telemetry::Output::Direct,
        }
    }
}

/// The `wasmhook` binary: parses the command line, starts the log output and runs the verb on a
/// multi-threaded tokio runtime; an error is printed last and makes the exit status 1. Here
/// rather than in `main.rs` so that the binary compiles none of the library again (see
/// [`crate::BoxFuture`]).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = crate::telemetry::init(
        cli.log_format,
        cli.command.default_log_level(),
        cli.command.log_output(),
    );
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli.command)));
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

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            config,
            listen,
            admin_listen,
        } => serve::serve(&config, listen, admin_listen).await,
        Command::Eval(args) => eval::eval(args).await,
        Command::Test(args) => test::test(args).await,
        Command::New(args) => new::new(args),
        Command::Push(args) => push::push(args).await,
        Command::Check { config } => check::check(&config).await,
    }
}
