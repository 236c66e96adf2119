//! The supervisor's shutdown: stop admitting, cancel the queue, let running runs finish within
//! the grace period, cancel the rest, and answer once every run is finalized.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ractor::ActorRef;
use tokio::sync::oneshot;

use super::{SupervisorMsg, SupervisorState, cancel_unstarted, update_gauges};
use crate::command::ShutdownReport;
use crate::record::{RunRecord, StopReason};

/// A shutdown in progress.
pub(super) struct ShutdownState {
    pub(super) reply: Option<oneshot::Sender<ShutdownReport>>,
    pub(super) report: ShutdownReport,
    pub(super) grace_over: bool,
}

pub(super) fn on_shutdown(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    grace: Duration,
    reply: oneshot::Sender<ShutdownReport>,
) {
    if let Some(shutdown) = state.shutdown.as_mut() {
        // A second shutdown waits for the first.
        if shutdown.reply.is_none() {
            shutdown.reply = Some(reply);
        }
        return;
    }
    state
        .args
        .reader
        .counts
        .shutting_down
        .store(true, Ordering::Relaxed);
    let mut report = ShutdownReport::default();
    for record in std::mem::take(&mut state.queue) {
        cancel_unstarted(
            state,
            record,
            StopReason::Shutdown,
            "orchestrator shut down before the run started",
        );
        report.cancelled += 1;
    }
    state.shutdown = Some(ShutdownState {
        reply: Some(reply),
        report,
        grace_over: false,
    });
    myself.send_after(grace, || SupervisorMsg::GraceExpired);
    update_gauges(state);
    finish_shutdown_if_idle(myself, state);
}

pub(super) fn on_grace_expired(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
    let Some(shutdown) = state.shutdown.as_mut() else {
        return;
    };
    shutdown.grace_over = true;
    for run_id in state.active.keys() {
        if let Some(record) = state.args.reader.registry.get(run_id) {
            record.control.stop(StopReason::Shutdown);
            shutdown.report.cancelled += 1;
        }
    }
    finish_shutdown_if_idle(myself, state);
}

/// Answers the shutdown and stops the supervisor once no run is active, being finalized or
/// being admitted.
pub(super) fn finish_shutdown_if_idle(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
) {
    let idle =
        state.active.is_empty() && state.finalizing_unstarted.is_empty() && state.admitting == 0;
    let Some(shutdown) = state.shutdown.as_mut() else {
        return;
    };
    if idle {
        if let Some(reply) = shutdown.reply.take() {
            let _ = reply.send(shutdown.report.clone());
        }
        myself.stop(Some("shutdown".into()));
    }
}

/// A run that got here after shutdown began ends as a queued run would (counted as cancelled);
/// otherwise it comes back, to start or queue.
pub(super) fn unless_shutting_down(
    state: &mut SupervisorState,
    record: Arc<RunRecord>,
) -> Option<Arc<RunRecord>> {
    let shutdown = match state.shutdown.as_mut() {
        Some(shutdown) => shutdown,
        None => return Some(record),
    };
    shutdown.report.cancelled += 1;
    cancel_unstarted(
        state,
        record,
        StopReason::Shutdown,
        "orchestrator shut down before the run started",
    );
    None
}
