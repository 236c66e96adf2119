//! The command line: argument parsing, logging setup, the runtime, and the dispatch to each
//! command. What the commands share with the server (loading the config, exit codes, Ctrl-C)
//! is in `src/host.rs`.
//!
//! `serve` runs the HTTP API (see `src/server.rs`); `status`, `events`, `runs` and `cancel` are
//! its clients (`cli/client.rs`).

mod client;
mod demo;
mod demo_site;
mod eval;
mod export;
mod output;
mod run;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::host::EXIT_FAILED;

/// Log filter when RUST_LOG is unset. chromiumoxide logs the few CDP events it cannot parse at
/// WARN (harmless, see the architecture notes), so it only shows errors.
const DEFAULT_LOG_FILTER: &str = "warn,chromiumoxide=error";

/// Runs browser-automation requests in headless Chromium.
#[derive(Debug, Parser)]
#[command(name = "pilothouse", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run one request and show its events as they happen, then its final status.
    Run(run::RunArgs),
    /// Serve the bundled demo site and run the example requests against it concurrently.
    Demo(demo::DemoArgs),
    /// Check playbooks (.yaml) and run requests (.json) without running them.
    Validate(validate::ValidateArgs),
    /// Serve the HTTP API (submit, watch, cancel and list runs) over one orchestrator.
    Serve(crate::server::ServeArgs),
    /// Show a run's status, from a server.
    Status(client::StatusArgs),
    /// Show a run's events, from a server (`--follow` until it ends).
    Events(client::EventsArgs),
    /// List a server's runs, newest first.
    Runs(client::RunsArgs),
    /// Cancel a run on a server.
    Cancel(client::CancelArgs),
    /// Run an evaluation suite: trials per case, scored, with report.json and report.html.
    Eval(eval::EvalArgs),
    /// Turn a finished agent run into a playbook that replays it without the model.
    ExportPlaybook(export::ExportArgs),
}

/// Parses the arguments, installs logging, and runs the command on a tokio runtime.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Commands::Validate(args) => return ExitCode::from(validate::validate(args)),
        Commands::ExportPlaybook(args) => return ExitCode::from(export::export(args)),
        _ => {}
    }
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            say_err!("error: cannot start the tokio runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Commands::Run(args) => run::run(args).await,
            Commands::Demo(args) => demo::demo(args).await,
            Commands::Validate(args) => Ok(validate::validate(&args)),
            Commands::ExportPlaybook(args) => Ok(export::export(&args)),
            Commands::Serve(args) => crate::server::serve(args).await,
            Commands::Status(args) => client::status(args).await,
            Commands::Events(args) => client::events(args).await,
            Commands::Runs(args) => client::runs(args).await,
            Commands::Cancel(args) => client::cancel(args).await,
            Commands::Eval(args) => eval::eval(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            say_err!("error: {error:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
