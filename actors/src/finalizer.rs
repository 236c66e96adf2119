//! The Finalizer actor: one per orchestrator. Turns a run's outcome into its committed final
//! state, in the order of architecture §2. The first two steps happen in the run's own
//! subtree, which owns the browser (`session/wind_down.rs`); the Finalizer receives only their
//! artifacts, never an actor of that subtree:
//!
//! 1. (session) capture what the recording still needs (final screenshot and DOM);
//! 2. (session) close the run's browser and wait for its processes;
//! 3. keep the captured page in the recording, seal it (report, manifest) and upload it,
//!    retried with backoff (not when this node was fenced out of the run: its recording
//!    location is the new owner's);
//! 4. append the terminal event, then write `status.json` atomically — the commit point;
//! 5. broadcast the terminal event (a subscriber that sees it can read the final status);
//! 6. metrics, then the reply to whoever handed over the run: the session, which then stops,
//!    and the supervisor frees the slot when it sees the session end.
//!
//! Each step records its own failure in `finalize_errors` and the later steps still run. Each job
//! runs in its own task, so one slow upload never delays another run's commit, and each task is
//! watched (`finalizer/supervise.rs`): a job that panics still ends its run (`INTERNAL_ERROR`)
//! and is still answered, so its slot is freed.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::Instrument;

use crate::event::{EventKind, RunEvent};
use crate::record::RunRecord;
use crate::recording::upload::Uploader;
use crate::run::FinalizeError;
use crate::run::{RecordingInfo, RunOutcome, RunStatus};

mod artifacts;
mod supervise;

pub(crate) use artifacts::FinalArtifacts;

/// A run ready to be finalized: its record, its outcome, and what its session took from the
/// browser before closing it. Data only: the browser is closed before the job exists.
pub(crate) struct FinalizeJob {
    pub(crate) record: Arc<RunRecord>,
    pub(crate) outcome: RunOutcome,
    pub(crate) artifacts: FinalArtifacts,
}

/// Messages of the Finalizer.
pub(crate) enum FinalizerMsg {
    /// Finalize one run; the reply comes once its terminal state is committed and broadcast
    /// (or, when the job panicked, once its failed state is).
    Finalize(Box<FinalizeJob>, RpcReplyPort<()>),
}

/// Startup arguments of the Finalizer.
pub(crate) struct FinalizerArgs {
    /// Where recordings are uploaded.
    pub(crate) uploader: Arc<Uploader>,
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
            FinalizerMsg::Finalize(job, reply) => {
                let args = state.args.clone();
                tokio::spawn(supervise::watch(args, *job, reply));
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
        artifacts,
    } = job;
    let run_id = record.id;
    let mut errors = Vec::new();

    // 1.–2. happened in the session: its capture and its close report are all that is left
    artifacts.keep(&record, &mut errors).await;

    let mut final_status = record.status().clone();
    final_status.finish(outcome);

    // 3. seal the recording and upload it
    final_status.recording = seal_and_upload(&args, &record, &final_status, &mut errors)
        .instrument(tracing::info_span!("finalize_step", %run_id, step = "recording"))
        .await;

    // 4. the terminal event, then the atomic status: the commit point
    errors.extend(write_failures(&record));
    final_status.finalize_errors.extend(errors);
    let (terminal, mut status) = append_terminal(&record, final_status);
    write_status(&record, &mut status).await;
    *record.status() = status.clone();

    // 5. broadcast: the status on disk already says what the event says
    record.log.publish_terminal(terminal);

    // 6. metrics; the caller's reply follows (`supervise.rs`)
    record_metrics(&status);
}

/// Writes that failed during the run (state changes of `status.json`, events of
/// `events.jsonl`), as the final status reports them.
fn write_failures(record: &RunRecord) -> Vec<FinalizeError> {
    let mut errors = Vec::new();
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
    errors
}

/// Appends the terminal event carrying the final status (with its `last_seq`); returns the
/// event, not yet broadcast, and that status with a failed sync of the log added.
fn append_terminal(record: &RunRecord, final_status: RunStatus) -> (RunEvent, RunStatus) {
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
    (terminal, status)
}

/// Writes the final `status.json` atomically, off the runtime's threads; a failure is added
/// to the status's `finalize_errors`.
async fn write_status(record: &Arc<RunRecord>, status: &mut RunStatus) {
    let commit_span = tracing::info_span!("finalize_step", run_id = %record.id, step = "commit");
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
}

/// The run's counters and duration, and each finalize error by step.
fn record_metrics(status: &RunStatus) {
    metrics::counter!("pilothouse_runs_total", "state" => status.state.as_str()).increment(1);
    if let Some(ms) = status.duration_ms {
        metrics::histogram!("pilothouse_run_duration_seconds").record(ms as f64 / 1000.0);
    }
    for e in &status.finalize_errors {
        metrics::counter!("pilothouse_finalize_errors_total", "step" => e.step.clone())
            .increment(1);
    }
    tracing::info!(state = %status.state, actions = status.action_count, "run finalized");
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
    let sealed = tokio::task::spawn_blocking(move || {
        sealer.recorder.save_request(&sealer.request);
        sealer.recorder.seal(&for_report)
    })
    .await;
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
    if !record.recorder.plan.upload {
        return Some(info);
    }
    if record.control.is_fenced() {
        // The run's recording location belongs to whichever node owns the run now.
        tracing::warn!(local = %local_dir.display(), "fenced out of the run: its recording is not uploaded");
        return Some(info);
    }
    upload(args, record, &manifest, &mut info, errors).await;
    Some(info)
}

/// Uploads the sealed recording; a failure leaves the local copy and says why.
async fn upload(
    args: &FinalizerArgs,
    record: &RunRecord,
    manifest: &crate::recording::Manifest,
    info: &mut RecordingInfo,
    errors: &mut Vec<FinalizeError>,
) {
    let local_dir = record.recorder.dir();
    match args.uploader.upload(record.id, &local_dir, manifest).await {
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
