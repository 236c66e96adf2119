//! The Finalizer actor: one per orchestrator. Turns a run's outcome into its committed final
//! state, in the order of architecture §2:
//!
//! 1. capture what the recording still needs (final screenshot and DOM);
//! 2. close the run's browser and wait for its processes;
//! 3. seal the recording (report, manifest) and upload it, retried with backoff;
//! 4. append the terminal event, then write `status.json` atomically — the commit point;
//! 5. broadcast the terminal event (a subscriber that sees it can read the final status);
//! 6. metrics, then tell the supervisor to free the slot.
//!
//! Each step records its own failure in `finalize_errors` and the later steps still run. Each job
//! runs in its own task, so one slow browser close never delays another run's commit, and each
//! task is watched (`finalizer/supervise.rs`): a job that panics still ends its run
//! (`INTERNAL_ERROR`) and frees its slot.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::Instrument;

use crate::browser::BrowserMsg;
use crate::event::EventKind;
use crate::page_driver::CloseMode;
use crate::record::RunRecord;
use crate::recording::upload::Uploader;
use crate::request::RecordingPlan;
use crate::run::{ErrorCode, FinalizeError, RunOutcome, RunState};
use crate::run::{RecordingInfo, RunStatus};
use crate::supervisor::SupervisorMsg;

mod supervise;

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
    /// Where recordings are uploaded.
    pub(crate) uploader: Arc<Uploader>,
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
                tokio::spawn(supervise::watch(args, *job));
            }
        }
        Ok(())
    }
}

async fn finalize(args: Arc<FinalizerArgs>, job: FinalizeJob) {
    let span = tracing::info_span!("finalize", run_id = %job.record.id, state = %job.outcome.state);
    commit(args, job).instrument(span).await;
}

/// Bound on capturing the final page.
const FINAL_CAPTURE_TIMEOUT: Duration = Duration::from_secs(3);

async fn commit(args: Arc<FinalizerArgs>, job: FinalizeJob) {
    let FinalizeJob {
        record,
        outcome,
        browser,
    } = job;
    let run_id = record.id;
    let mut errors = Vec::new();

    // 1. capture the final page while the browser still lives
    if let Some(browser) = &browser {
        capture_final(&record, browser, &outcome)
            .instrument(tracing::info_span!("finalize_step", %run_id, step = "capture"))
            .await;
    }

    // 2. close the browser and wait for its processes to exit. When the actor is already gone
    // (killed with its session), its drop guard has killed the browser's process group.
    if let Some(browser) = browser {
        close_browser(&args, &browser, &outcome, &mut errors)
            .instrument(tracing::info_span!("finalize_step", %run_id, step = "close_browser"))
            .await;
    }

    let mut final_status = record.status().clone();
    final_status.finish(outcome);

    // 3. seal the recording and upload it
    final_status.recording = seal_and_upload(&args, &record, &final_status, &mut errors)
        .instrument(tracing::info_span!("finalize_step", %run_id, step = "recording"))
        .await;

    // 4. the terminal event, then the atomic status: the commit point
    if let (failures @ 1.., Some(last)) = record.status_write_failures() {
        errors.push(FinalizeError::new(
            "status",
            format!("{failures} state-change write(s) of status.json failed; last: {last}"),
        ));
    }
    let write_errors = record.log.write_errors();
    if write_errors > 0 {
        errors.push(FinalizeError::new(
            "event_log",
            format!("{write_errors} event(s) could not be appended to events.jsonl"),
        ));
    }
    final_status.finalize_errors.extend(errors);
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
        status
            .finalize_errors
            .push(FinalizeError::new("event_log", e));
    }
    let commit_span = tracing::info_span!("finalize_step", %run_id, step = "commit");
    let committer = record.clone();
    let to_write = status.clone();
    let written = tokio::task::spawn_blocking(move || committer.commit_status(&to_write))
        .instrument(commit_span)
        .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => status
            .finalize_errors
            .push(FinalizeError::new("status", e.to_string())),
        Err(e) => status
            .finalize_errors
            .push(FinalizeError::new("status", e.to_string())),
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

async fn close_browser(
    args: &FinalizerArgs,
    browser: &ActorRef<BrowserMsg>,
    outcome: &RunOutcome,
    errors: &mut Vec<FinalizeError>,
) {
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
            errors.push(FinalizeError::new("close_browser", problem));
        }
    }
    browser.stop(None);
}

/// The final screenshot and DOM, when the run reached its page and the browser still answers.
async fn capture_final(record: &RunRecord, browser: &ActorRef<BrowserMsg>, outcome: &RunOutcome) {
    let RecordingPlan {
        screenshots,
        final_dom,
        ..
    } = record.recorder.plan;
    let crashed = outcome
        .error
        .as_ref()
        .is_some_and(|e| e.code == ErrorCode::BrowserCrashed);
    let reached_a_page = record.status().action_count > 0;
    if crashed || !reached_a_page || !(screenshots || final_dom) {
        return;
    }
    let masks = record.recorder.masks();
    let reply = browser
        .call(
            |reply| BrowserMsg::Capture {
                screenshot: screenshots,
                dom: final_dom,
                masks,
                reply,
            },
            Some(FINAL_CAPTURE_TIMEOUT),
        )
        .await;
    match reply {
        Ok(ractor::rpc::CallResult::Success(Ok(capture))) => {
            if let Some(jpeg) = capture.jpeg {
                record.recorder.save_screenshot("final", &jpeg).await;
            }
            if let Some(reason) = capture.withheld {
                record.log("warn", &format!("final screenshot withheld: {reason}"));
            }
            if let Some(dom) = capture.dom {
                // Scrubbed and cut at the browser seam; kept, so charged to max_data_bytes.
                record
                    .recorder
                    .save_final_dom(&record.budget.take_text(dom));
            }
        }
        Ok(ractor::rpc::CallResult::Success(Err(e))) => {
            record
                .recorder
                .problem(format!("final capture failed: {e}"));
        }
        _ => record
            .recorder
            .problem("final capture: the browser did not answer in time".into()),
    }
}

/// Report and manifest, then the upload. A failed upload leaves the local copy and says why.
async fn seal_and_upload(
    args: &FinalizerArgs,
    record: &Arc<RunRecord>,
    status: &RunStatus,
    errors: &mut Vec<FinalizeError>,
) -> Option<RecordingInfo> {
    let sealer = record.clone();
    let for_report = status.clone();
    let sealed = tokio::task::spawn_blocking(move || sealer.recorder.seal(&for_report)).await;
    for problem in record.recorder.problems() {
        errors.push(FinalizeError::new("recording", problem));
    }
    let manifest = match sealed {
        Ok(Ok(Some(manifest))) => manifest,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => {
            errors.push(FinalizeError::new(
                "recording",
                format!("cannot seal the recording: {e}"),
            ));
            return None;
        }
        Err(e) => {
            errors.push(FinalizeError::new(
                "recording",
                format!("sealing panicked: {e}"),
            ));
            return None;
        }
    };
    let local_dir = record.recorder.dir();
    let mut info = manifest.local_info(local_dir.clone());
    if record.recorder.plan.upload {
        match args.uploader.upload(record.id, &local_dir, &manifest).await {
            Ok(location) => {
                metrics::counter!("pilothouse_uploads_total", "outcome" => "ok").increment(1);
                info.location = location;
                info.uploaded = true;
            }
            Err(e) => {
                metrics::counter!("pilothouse_uploads_total", "outcome" => "failed").increment(1);
                tracing::warn!(error = %e, "recording upload failed; the local copy stays");
                errors.push(FinalizeError::new(
                    "upload",
                    format!(
                        "upload to {} failed, the recording stays in {}: {e}",
                        args.uploader.location(record.id),
                        local_dir.display()
                    ),
                ));
            }
        }
    }
    Some(info)
}
