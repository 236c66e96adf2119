//! Supervision of finalize jobs. Each job runs in a task of its own; a watcher awaits it,
//! answers the job's caller once the run is committed and, when the job panicked, ends the run
//! anyway first: the run fails with `INTERNAL_ERROR`, its subscribers get a terminal event,
//! `status.json` is written when the store still answers, and the caller is answered all the
//! same (the session then stops and its slot is freed) — so one bug in finalization never
//! holds a slot or a shutdown.

use std::sync::Arc;

use ractor::RpcReplyPort;

use super::{FinalizeJob, FinalizerArgs, finalize};
use crate::event::EventKind;
use crate::record::RunRecord;
use crate::run::{ErrorCode, FinalizeError, RunError, RunOutcome};

/// Runs `job`, answers for it if it panics, then replies to its caller.
pub(super) async fn watch(args: Arc<FinalizerArgs>, job: FinalizeJob, reply: RpcReplyPort<()>) {
    let record = job.record.clone();
    if let Err(error) = tokio::spawn(finalize(args, job)).await {
        let message = panic_message(error);
        tracing::error!(run_id = %record.id, %message, "finalize job panicked");
        metrics::counter!("pilothouse_finalize_panics_total").increment(1);
        end_after_panic(&record, &message).await;
    }
    // A caller that stopped waiting (its session was killed) needs no answer.
    let _ = reply.send(());
}

/// Commits a failed final status and then publishes its terminal event, in the order of a
/// normal commit — or only publishes the committed one, when the job got that far.
async fn end_after_panic(record: &Arc<RunRecord>, message: &str) {
    let Some(seq) = record.log.seal_after_panic() else {
        return; // the job published its terminal event: nothing is owed
    };
    let committed = record.status().state.is_terminal();
    let mut status = record.status().clone();
    if !committed {
        status.finish(RunOutcome::failed(RunError::new(
            ErrorCode::InternalError,
            format!("finalization failed: {message}"),
        )));
        status.finalize_errors.push(FinalizeError::new(
            "finalize",
            format!("panicked: {message}"),
        ));
        status.last_seq = seq;
        *record.status() = status.clone();
        let committer = record.clone();
        let to_write = status.clone();
        let written = tokio::task::spawn_blocking(move || committer.commit_status(&to_write)).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!(
                run_id = %record.id,
                "the final status of a run whose finalization panicked could not be written"
            );
        }
    }
    let kind = EventKind::Finished {
        status: Box::new(status),
    };
    record
        .log
        .publish_terminal(record.log.terminal_event(seq, kind));
}

fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
