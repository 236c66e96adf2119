//! The Finalizer actor: one per orchestrator. Turns a run's outcome into its committed final
//! state, in the order of architecture §2:
//!
//! 1. capture what the recording still needs (recordings come with the persistence issue);
//! 2. close the run's browser and wait for its processes;
//! 3. write the manifest and upload (persistence issue);
//! 4. append the terminal event, then write `status.json` atomically — the commit point;
//! 5. broadcast the terminal event (a subscriber that sees it can read the final status);
//! 6. metrics, then tell the supervisor to free the slot.
//!
//! Each step records its own failure in `finalize_errors` and the later steps still run. Each job
//! runs in its own task, so one slow browser close never delays another run's commit.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::Instrument;

use crate::browser::BrowserMsg;
use crate::event::EventKind;
use crate::page_driver::CloseMode;
use crate::record::RunRecord;
use crate::run::{ErrorCode, FinalizeError, RunOutcome, RunState};
use crate::store::RunStore;
use crate::supervisor::SupervisorMsg;

/// A run ready to be finalized.
pub(crate) struct FinalizeJob {
    pub(crate) record: Arc<RunRecord>,
    pub(crate) outcome: RunOutcome,
    /// The run's browser, when it had one.
    pub(crate) browser: Option<ActorRef<BrowserMsg>>,
}

/// Messages of the Finalizer.
pub(crate) enum FinalizerMsg {
    /// Finalize one run.
    Finalize(Box<FinalizeJob>),
}

/// Startup arguments of the Finalizer.
pub(crate) struct FinalizerArgs {
    pub(crate) store: Arc<dyn RunStore>,
    pub(crate) supervisor: ActorRef<SupervisorMsg>,
    /// Bound on a graceful browser close.
    pub(crate) close_timeout: Duration,
    /// Bound on the browser close call (the browser's own close bound plus a margin).
    pub(crate) close_call_timeout: Duration,
}

/// Finalizer state: its arguments.
pub(crate) struct FinalizerState {
    args: Arc<FinalizerArgs>,
}

/// Commits terminal outcomes.
pub(crate) struct FinalizerActor;

impl Actor for FinalizerActor {
    type Msg = FinalizerMsg;
    type State = FinalizerState;
    type Arguments = FinalizerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: FinalizerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(FinalizerState {
            args: Arc::new(args),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            FinalizerMsg::Finalize(job) => {
                let args = state.args.clone();
                tokio::spawn(finalize(args, *job));
            }
        }
        Ok(())
    }
}

async fn finalize(args: Arc<FinalizerArgs>, job: FinalizeJob) {
    let span = tracing::info_span!("finalize", run_id = %job.record.id, state = %job.outcome.state);
    commit(args, job).instrument(span).await;
}

async fn commit(args: Arc<FinalizerArgs>, job: FinalizeJob) {
    let FinalizeJob {
        record,
        outcome,
        browser,
    } = job;
    let mut errors = Vec::new();

    // 2. close the browser and wait for its processes to exit. When the actor is already gone
    // (killed with its session), its drop guard has killed the browser's process group.
    if let Some(browser) = browser {
        // A run that was stopped, timed out or lost its browser ends it at once; a run that
        // finished on its own lets Chromium exit cleanly.
        let mode = match (outcome.state, outcome.error.as_ref().map(|e| e.code)) {
            (RunState::Cancelled | RunState::TimedOut, _)
            | (_, Some(ErrorCode::BrowserCrashed | ErrorCode::InternalError)) => CloseMode::Kill,
            _ => CloseMode::Graceful(args.close_timeout),
        };
        let closed = browser
            .call(
                |reply| BrowserMsg::Close(mode, reply),
                Some(args.close_call_timeout),
            )
            .await;
        if let Ok(ractor::rpc::CallResult::Success(report)) = closed {
            if let Some(problem) = report.problem {
                errors.push(step_error("close_browser", problem));
            }
        }
        browser.stop(None);
    }

    // 4. the terminal event, then the atomic status: the commit point
    let write_errors = record.log.write_errors();
    if write_errors > 0 {
        errors.push(step_error(
            "event_log",
            format!("{write_errors} event(s) could not be appended to events.jsonl"),
        ));
    }
    let final_status = {
        let mut status = record.status();
        status.finish(outcome);
        status.finalize_errors.extend(errors);
        status.clone()
    };
    let (terminal, sync_error) = record.log.append_terminal(|seq| {
        let mut status = final_status.clone();
        status.last_seq = seq;
        EventKind::Finished {
            status: Box::new(status),
        }
    });
    let EventKind::Finished { status } = &terminal.kind else {
        unreachable!("append_terminal was given a Finished event")
    };
    let mut status = (**status).clone();
    if let Some(e) = sync_error {
        status.finalize_errors.push(step_error("event_log", e));
    }
    let store = args.store.clone();
    let to_write = status.clone();
    let written = tokio::task::spawn_blocking(move || store.write_status(&to_write)).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => status
            .finalize_errors
            .push(step_error("status", e.to_string())),
        Err(e) => status
            .finalize_errors
            .push(step_error("status", e.to_string())),
    }
    *record.status() = status.clone();

    // 5. broadcast: the status on disk already says what the event says
    record.log.publish_terminal(terminal);

    // 6. metrics, then free the slot
    metrics::counter!("pilothouse_runs_total", "state" => status.state.as_str()).increment(1);
    if let Some(ms) = status.duration_ms {
        metrics::histogram!("pilothouse_run_duration_seconds").record(ms as f64 / 1000.0);
    }
    for e in &status.finalize_errors {
        metrics::counter!("pilothouse_finalize_errors_total", "step" => e.step.clone())
            .increment(1);
    }
    tracing::info!(state = %status.state, actions = status.action_count, "run finalized");
    let _ = args.supervisor.cast(SupervisorMsg::RunFinalized(record.id));
}

fn step_error(step: &str, message: impl Into<String>) -> FinalizeError {
    FinalizeError {
        step: step.to_owned(),
        message: message.into(),
    }
}
