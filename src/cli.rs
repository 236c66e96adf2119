//! The command line: argument parsing, logging setup, the runtime, and what the commands share
//! (loading the config, exit codes, Ctrl-C).
//!
//! `serve` runs the HTTP API (see `src/server.rs`); `status`, `events`, `runs` and `cancel` are
//! its clients (`cli/client.rs`).
//!
//! Exit codes follow the run's outcome: 0 completed, 1 failed or timed out (or the binary itself
//! failed), 2 invalid input (request, config or arguments), 130 cancelled by Ctrl-C.

mod client;
mod demo;
mod demo_site;
mod output;
mod run;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pilothouse::{Config, RunState};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing_subscriber::EnvFilter;

/// The run completed.
pub(crate) const EXIT_COMPLETED: u8 = 0;
/// The run failed or timed out, or the binary could not do its job.
pub(crate) const EXIT_FAILED: u8 = 1;
/// The request, the config or the arguments are invalid (clap also exits 2 on bad arguments).
pub(crate) const EXIT_INVALID: u8 = 2;
/// Ctrl-C cancelled the run (128 + SIGINT, as shells report it).
pub(crate) const EXIT_CANCELLED: u8 = 130;

/// How long runs may go on finishing when the binary shuts its orchestrator down. By then every
/// run the binary waits for is terminal, so this only bounds the unexpected.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
}

/// Parses the arguments, installs logging, and runs the command on a tokio runtime.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Commands::Validate(args) = &cli.command {
        return ExitCode::from(validate::validate(args));
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
            Commands::Serve(args) => crate::server::serve(args).await,
            Commands::Status(args) => client::status(args).await,
            Commands::Events(args) => client::events(args).await,
            Commands::Runs(args) => client::runs(args).await,
            Commands::Cancel(args) => client::cancel(args).await,
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

/// The config: `file` when given (missing keys take their defaults), else `Config::default()`;
/// then the `PILOTHOUSE_<KEY>` and `PILOTHOUSE_<SECTION>__<KEY>` environment overrides; then
/// the flags: `runs_dir` overrides the runs directory, and moves a default `recordings_dir` next
/// to it (`<runs_dir>/../recordings`). The error names the key and the file or variable.
pub(crate) fn load_config(
    file: Option<&Path>,
    runs_dir: Option<PathBuf>,
) -> Result<Config, String> {
    let config = match file {
        Some(path) => Config::from_toml_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    let mut config = config.with_env_overrides().map_err(|e| e.to_string())?;
    if let Some(dir) = runs_dir {
        if config.recording.recordings_dir == pilothouse::RecordingConfig::default().recordings_dir
        {
            let parent = dir.parent().unwrap_or(Path::new("."));
            config.recording.recordings_dir = parent.join("recordings");
        }
        config.runs_dir = dir;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The exit code of a run that ended in `state`.
pub(crate) fn exit_code_for(state: RunState) -> u8 {
    match state {
        RunState::Completed => EXIT_COMPLETED,
        RunState::Cancelled => EXIT_CANCELLED,
        _ => EXIT_FAILED,
    }
}

/// A SIGINT (Ctrl-C) and SIGTERM listener. It is registered when created, so a signal that
/// arrives while the orchestrator is still starting is kept rather than killing the process with
/// its browsers half launched. (`tokio::signal::ctrl_c` registers on first poll, which is later.)
/// SIGTERM (`kill`, `docker stop`) gets the same orderly cancel-and-shutdown as Ctrl-C.
pub(crate) struct Interrupts {
    int: Signal,
    term: Signal,
}

impl Interrupts {
    /// Waits for the next SIGINT or SIGTERM.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

pub(crate) fn interrupts() -> anyhow::Result<Interrupts> {
    Ok(Interrupts {
        int: signal(SignalKind::interrupt())?,
        term: signal(SignalKind::terminate())?,
    })
}
