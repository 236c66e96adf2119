//! `pilothouse run REQUEST.json`: runs one request on an embedded orchestrator, prints a line per
//! event as it happens and then the final status; Ctrl-C cancels the run and waits until it is
//! `cancelled` and its browser is gone.

use std::path::{Path, PathBuf};

use crate::cli::Interrupts;
use anyhow::Context as _;
use futures::StreamExt as _;
use pilothouse::{
    Config, EventKind, InvalidRequest, Orchestrator, OrchestratorHandle, RunRequest, RunStatus,
    SubmitError,
};

use super::{EXIT_INVALID, SHUTDOWN_GRACE, exit_code_for, interrupts, load_config, output};

/// Arguments of `pilothouse run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The run request: a JSON file (see "Request format" in the README).
    request: PathBuf,
    /// Where to keep runs/<run_id>/ (overrides the config's `runs_dir`).
    #[arg(long, value_name = "DIR")]
    runs_dir: Option<PathBuf>,
    /// A TOML config file (see config/default.toml); defaults apply without one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print each event as one JSON line, then the final status as one JSON line.
    #[arg(long)]
    json: bool,
}

/// Runs the command; returns the exit code.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let config = match load_config(args.config.as_deref(), args.runs_dir.clone()) {
        Ok(config) => config,
        Err(message) => {
            say_err!("error: {message}");
            return Ok(EXIT_INVALID);
        }
    };
    let request = match read_request(&args.request, &config) {
        Ok(request) => request,
        Err(message) => {
            say_err!("{message}");
            return Ok(EXIT_INVALID);
        }
    };
    let mut sigint = interrupts()?;
    let orchestrator = Orchestrator::start(config.clone())
        .await
        .context("cannot start the orchestrator")?;
    let outcome = watch(
        &orchestrator.handle(),
        &args.request,
        request,
        &config,
        args.json,
        &mut sigint,
    )
    .await;
    // Always shut down, whatever happened: every browser is closed before the process exits.
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    outcome
}

/// Reads, parses and validates the request; the error lists every problem with its field.
fn read_request(path: &Path, config: &Config) -> Result<RunRequest, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("error: cannot read the request {}: {e}", path.display()))?;
    let request = RunRequest::from_json(&text).map_err(|e| invalid_message(path, &e))?;
    request
        .validate(config)
        .map_err(|e| invalid_message(path, &e))?;
    Ok(request)
}

fn invalid_message(path: &Path, invalid: &InvalidRequest) -> String {
    let mut message = format!("error: invalid run request {}:", path.display());
    for problem in &invalid.errors {
        message.push_str(&format!("\n  {problem}"));
    }
    message
}

/// Submits the request, follows its events until the terminal one (cancelling on Ctrl-C), and
/// prints the final status.
async fn watch(
    handle: &OrchestratorHandle,
    path: &Path,
    request: RunRequest,
    config: &Config,
    json: bool,
    sigint: &mut Interrupts,
) -> anyhow::Result<u8> {
    let run_id = match handle.submit(request).await {
        Ok(run_id) => run_id,
        Err(SubmitError::Invalid(invalid)) => {
            say_err!("{}", invalid_message(path, &invalid));
            return Ok(EXIT_INVALID);
        }
        Err(error) => return Err(error).context("the run was not admitted"),
    };
    if !json {
        let dir = config.runs_dir.join(run_id.to_string());
        say!(
            "run {run_id}  (events: {})",
            dir.join("events.jsonl").display()
        );
    }
    let mut events = handle
        .events(run_id, 0)
        .await
        .context("cannot follow the run's events")?;
    let mut last: Option<RunStatus> = None;
    let mut cancelling = false;
    loop {
        tokio::select! {
            event = events.next() => {
                let Some(event) = event else { break };
                if json {
                    say!("{}", serde_json::to_string(&event)?);
                } else if let Some(line) = output::event_line(&event) {
                    say!("{line}");
                }
                if let EventKind::Finished { status } = event.kind {
                    last = Some(*status);
                }
            }
            _ = sigint.recv() => {
                if cancelling {
                    say_err!("still cancelling run {run_id}; waiting for its browser to close");
                } else {
                    cancelling = true;
                    say_err!("interrupted: cancelling run {run_id}");
                    handle.cancel(run_id).await.context("cannot cancel the run")?;
                }
            }
        }
    }
    let status = match last {
        Some(status) => status,
        // The stream ended without a terminal event: ask for what the orchestrator knows.
        None => handle
            .status(run_id)
            .await?
            .with_context(|| format!("run {run_id} ended without a status"))?,
    };
    if json {
        say!("{}", serde_json::to_string(&status)?);
    } else {
        say!("{}", output::status_block(&status, &config.runs_dir));
    }
    Ok(exit_code_for(status.state))
}
