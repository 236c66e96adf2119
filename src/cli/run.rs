//! `pilothouse run REQUEST.json [MORE.json ...]`: runs requests on an embedded orchestrator
//! (concurrently, up to `max_concurrent_runs`; more than the queue holds are submitted as slots
//! free), prints a line per event as it happens and then each final status; Ctrl-C cancels the
//! runs and waits until they are `cancelled` and their browsers are gone.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use futures::StreamExt as _;
use pilothouse::{
    Config, EventKind, InvalidRequest, Orchestrator, OrchestratorHandle, RunEvent, RunId,
    RunRequest, RunState, RunStatus, SubmitError,
};

use super::output;
use crate::host::{
    EXIT_INVALID, Interrupts, SHUTDOWN_GRACE, exit_code_for, interrupts, load_config,
};

/// Arguments of `pilothouse run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Run requests: JSON files (see "Request format" in the README). Several run concurrently.
    #[arg(required = true, value_name = "REQUEST")]
    requests: Vec<PathBuf>,
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
    let mut requests = Vec::with_capacity(args.requests.len());
    for path in &args.requests {
        match read_request(path, &config) {
            Ok(request) => requests.push((path.clone(), request)),
            Err(message) => {
                say_err!("{message}");
                return Ok(EXIT_INVALID);
            }
        }
    }
    let mut sigint = interrupts()?;
    let orchestrator = Orchestrator::start(config.clone())
        .await
        .context("cannot start the orchestrator")?;
    let outcome = watch(
        &orchestrator.handle(),
        requests,
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

/// Submits the requests as the queue admits them, follows their events until each run's
/// terminal one, and prints the final statuses. More requests than the queue holds wait here:
/// each terminal event frees a slot and the next request is submitted (a `QueueFull` is never a
/// reason to cancel what was admitted). Ctrl-C cancels the admitted runs and drops the rest.
async fn watch(
    handle: &OrchestratorHandle,
    requests: Vec<(PathBuf, RunRequest)>,
    config: &Config,
    json: bool,
    sigint: &mut Interrupts,
) -> anyhow::Result<u8> {
    let mut feed = Feed {
        handle,
        config,
        json,
        many: requests.len() > 1,
        waiting: requests.into(),
        ids: Vec::new(),
        events: futures::stream::SelectAll::new(),
        finals: BTreeMap::new(),
        dropped: Vec::new(),
        cancelling: false,
    };
    if let Some(code) = feed.submit_while_admitted().await? {
        return Ok(code);
    }
    if let Some(code) = feed.follow(sigint).await? {
        return Ok(code);
    }
    feed.report().await
}

/// Pause before submitting again when the queue is full and none of our runs is in flight.
const QUEUE_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// The requests not yet submitted, and the runs admitted so far with their event streams.
struct Feed<'a> {
    handle: &'a OrchestratorHandle,
    config: &'a Config,
    json: bool,
    waiting: VecDeque<(PathBuf, RunRequest)>,
    /// More than one request: event lines name their run.
    many: bool,
    /// Admitted runs, in submission order.
    ids: Vec<RunId>,
    events: futures::stream::SelectAll<futures::stream::BoxStream<'static, RunEvent>>,
    /// The final status of each run whose terminal event arrived.
    finals: BTreeMap<RunId, RunStatus>,
    /// Requests never submitted because Ctrl-C came first.
    dropped: Vec<PathBuf>,
    /// Ctrl-C was pressed: the admitted runs are being cancelled.
    cancelling: bool,
}

impl Feed<'_> {
    /// Submits waiting requests until the queue is full or none is left. `Some(code)`: a
    /// request was refused, the admitted runs were cancelled, and the binary exits with it.
    async fn submit_while_admitted(&mut self) -> anyhow::Result<Option<u8>> {
        while let Some((path, request)) = self.waiting.pop_front() {
            let run_id = match self.handle.submit(request.clone()).await {
                Ok(run_id) => run_id,
                Err(SubmitError::QueueFull { .. }) => {
                    self.waiting.push_front((path, request));
                    return Ok(None);
                }
                Err(SubmitError::Invalid(invalid)) => {
                    say_err!("{}", invalid_message(&path, &invalid));
                    cancel_all(self.handle, &self.ids).await;
                    return Ok(Some(EXIT_INVALID));
                }
                Err(error) => {
                    cancel_all(self.handle, &self.ids).await;
                    return Err(error).context("the run was not admitted");
                }
            };
            if !self.json {
                let dir = self.config.runs_dir.join(run_id.to_string());
                say!(
                    "run {run_id}  (events: {})",
                    dir.join("events.jsonl").display()
                );
            }
            let events = self
                .handle
                .events(run_id, 0)
                .await
                .context("cannot follow the run's events")?;
            self.ids.push(run_id);
            self.events.push(events.boxed());
        }
        Ok(None)
    }
}

impl Feed<'_> {
    /// Follows the admitted runs' events until every stream has ended and no request waits,
    /// submitting waiting requests as slots free. `Some(code)`: as `submit_while_admitted`.
    async fn follow(&mut self, sigint: &mut Interrupts) -> anyhow::Result<Option<u8>> {
        loop {
            if self.events.is_empty() {
                if self.waiting.is_empty() {
                    return Ok(None);
                }
                // Only reachable if the queue is full of runs that are not ours (an embedding
                // host's); ours would end and free it. Try again shortly.
                tokio::select! {
                    _ = tokio::time::sleep(QUEUE_RETRY) => {}
                    _ = sigint.recv() => {
                        self.drop_waiting();
                        return Ok(None);
                    }
                }
                if let Some(code) = self.submit_while_admitted().await? {
                    return Ok(Some(code));
                }
                continue;
            }
            tokio::select! {
                event = self.events.next() => {
                    let Some(event) = event else { continue };
                    if let Some(code) = self.on_event(event).await? {
                        return Ok(Some(code));
                    }
                }
                _ = sigint.recv() => self.on_interrupt().await,
            }
        }
    }

    /// Prints an event; a terminal one keeps its status and frees a slot for a waiting request.
    async fn on_event(&mut self, event: RunEvent) -> anyhow::Result<Option<u8>> {
        if self.json {
            say!("{}", serde_json::to_string(&event)?);
        } else if let Some(line) = output::event_line(&event) {
            if self.many {
                say!("[{}] {line}", short(event.run_id));
            } else {
                say!("{line}");
            }
        }
        if let EventKind::Finished { status } = event.kind {
            self.finals.insert(event.run_id, *status);
            if !self.cancelling {
                return self.submit_while_admitted().await;
            }
        }
        Ok(None)
    }

    /// The first Ctrl-C cancels the admitted runs and drops the waiting requests.
    async fn on_interrupt(&mut self) {
        if self.cancelling {
            say_err!("still cancelling; waiting for the browsers to close");
            return;
        }
        self.cancelling = true;
        self.drop_waiting();
        say_err!(
            "interrupted: cancelling {} run(s){}",
            self.ids.len() - self.finals.len(),
            if self.dropped.is_empty() {
                String::new()
            } else {
                format!(", {} request(s) not submitted", self.dropped.len())
            }
        );
        cancel_all(self.handle, &self.ids).await;
    }

    fn drop_waiting(&mut self) {
        self.dropped
            .extend(self.waiting.drain(..).map(|(path, _)| path));
    }

    /// Prints every run's final status and each request not submitted; the exit code.
    async fn report(mut self) -> anyhow::Result<u8> {
        let mut states = Vec::with_capacity(self.ids.len() + self.dropped.len());
        for run_id in std::mem::take(&mut self.ids) {
            let status = match self.finals.remove(&run_id) {
                Some(status) => status,
                // The stream ended without a terminal event: ask for what the orchestrator knows.
                None => self
                    .handle
                    .status(run_id)
                    .await?
                    .with_context(|| format!("run {run_id} ended without a status"))?,
            };
            if self.json {
                say!("{}", serde_json::to_string(&status)?);
            } else {
                say!("{}", output::status_block(&status, &self.config.runs_dir));
            }
            states.push(status.state);
        }
        for path in &self.dropped {
            if self.json {
                say!(
                    "{}",
                    serde_json::json!({"request": path, "state": "not_submitted"})
                );
            } else {
                say!("not submitted (interrupted): {}", path.display());
            }
            states.push(RunState::Cancelled);
        }
        Ok(exit_code_for(worst(&states)))
    }
}

/// The state that decides the exit code: any cancelled run, else any unsuccessful one.
fn worst(states: &[RunState]) -> RunState {
    if states.contains(&RunState::Cancelled) {
        return RunState::Cancelled;
    }
    states
        .iter()
        .copied()
        .find(|s| *s != RunState::Completed)
        .unwrap_or(RunState::Completed)
}

async fn cancel_all(handle: &OrchestratorHandle, ids: &[RunId]) {
    for run_id in ids {
        let _ = handle.cancel(*run_id).await;
    }
}

fn short(run_id: RunId) -> String {
    let text = run_id.to_string();
    text[text.len() - 8..].to_owned()
}
