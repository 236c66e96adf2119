//! With a shared store (`cluster.rs`), runs come to this node by claim rather than by submit.
//! A claimer task, woken by the store's hints, by a freed slot, or every `poll_ms`, claims up to
//! the free slots, turns each claimed run into a record off the runtime (`admission.rs`), and
//! hands it to the Supervisor as `Claimed`. The same task forwards cancel requests from other
//! nodes, and a forwarder relays runs the store fenced out; both end as messages here, so only
//! the Supervisor touches its state.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ractor::ActorRef;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::memory::update_gauges;
use super::{SupervisorMsg, SupervisorState, start_session, unless_shutting_down};
use crate::admission::{ClaimArgs, prepare_claimed};
use crate::cluster::{ClaimedRun, SharedCancel, SharedRuns};
use crate::command::{CancelAck, CancelError};
use crate::record::{RunRecord, StopReason};
use crate::run::{ErrorCode, RunError, RunId, RunOutcome};

/// The claimer's side of the slots: runs claimed and not yet handed over, and its wake-up.
#[derive(Debug, Default)]
pub(super) struct ClaimGate {
    claiming: AtomicUsize,
    wake: Notify,
}

/// The claimer and the fence forwarder of a node on a shared store.
pub(super) struct Claims {
    pub(super) shared: Arc<dyn SharedRuns>,
    gate: Arc<ClaimGate>,
    tasks: Vec<JoinHandle<()>>,
}

impl Claims {
    /// Starts claiming for `myself`.
    pub(super) fn start(
        shared: Arc<dyn SharedRuns>,
        myself: ActorRef<SupervisorMsg>,
        args: ClaimArgs,
        reader: Arc<crate::handle::Reader>,
        max: usize,
    ) -> Self {
        let gate = Arc::new(ClaimGate::default());
        let mut tasks = vec![tokio::spawn(claim_loop(
            shared.clone(),
            myself.clone(),
            args,
            gate.clone(),
            reader,
            max,
        ))];
        if let Some(mut fenced) = shared.fenced() {
            tasks.push(tokio::spawn(async move {
                while let Some(run_id) = fenced.recv().await {
                    if myself.cast(SupervisorMsg::Fenced(run_id)).is_err() {
                        break;
                    }
                }
            }));
        }
        Self {
            shared,
            gate,
            tasks,
        }
    }

    /// A slot was freed, or a run was submitted here: look for work now.
    pub(super) fn wake(&self) {
        self.gate.wake.notify_one();
    }

    /// Stops claiming and releases this node's lease.
    pub(super) async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.close().await;
    }
}

async fn claim_loop(
    shared: Arc<dyn SharedRuns>,
    myself: ActorRef<SupervisorMsg>,
    args: ClaimArgs,
    gate: Arc<ClaimGate>,
    reader: Arc<crate::handle::Reader>,
    max: usize,
) {
    let hint = shared.work_hint();
    loop {
        tokio::select! {
            () = hint.notified() => {}
            () = gate.wake.notified() => {}
            () = tokio::time::sleep(shared.poll_interval()) => {}
        }
        match shared.cancel_requests().await {
            Ok(ids) => {
                for run_id in ids {
                    let _ = myself.cast(SupervisorMsg::CancelRequested(run_id));
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read cancel requests"),
        }
        if reader.counts.shutting_down.load(Ordering::Relaxed) || !shared.may_claim() {
            continue;
        }
        let busy =
            reader.counts.active.load(Ordering::Relaxed) + gate.claiming.load(Ordering::Acquire);
        let free = max.saturating_sub(busy);
        if free == 0 {
            continue;
        }
        match shared.claim(free).await {
            Ok(runs) => hand_over(&shared, &myself, &args, &gate, runs).await,
            Err(error) => tracing::warn!(%error, "claiming queued runs failed"),
        }
    }
}

/// Makes each claimed run a record and sends it to the Supervisor, in claim order.
async fn hand_over(
    shared: &Arc<dyn SharedRuns>,
    myself: &ActorRef<SupervisorMsg>,
    args: &ClaimArgs,
    gate: &ClaimGate,
    runs: Vec<ClaimedRun>,
) {
    for claimed in runs {
        let prepare_args = args.clone();
        let prepared =
            tokio::task::spawn_blocking(move || prepare_claimed(&prepare_args, claimed)).await;
        match prepared {
            Ok(Ok(record)) => {
                gate.claiming.fetch_add(1, Ordering::AcqRel);
                if myself.cast(SupervisorMsg::Claimed(record)).is_err() {
                    return;
                }
            }
            Ok(Err(refused)) => {
                let (claimed, why) = *refused;
                refuse(shared, claimed, why).await
            }
            Err(error) => tracing::error!(%error, "preparing a claimed run failed"),
        }
    }
}

/// Ends a claimed run this node cannot start, in the shared store.
async fn refuse(shared: &Arc<dyn SharedRuns>, claimed: ClaimedRun, why: String) {
    tracing::error!(run_id = %claimed.run_id, %why, "claimed run refused");
    let mut status = claimed.status.clone();
    status.finish(RunOutcome::failed(RunError::new(
        ErrorCode::InternalError,
        why,
    )));
    shared.fail_claimed(&claimed, status).await;
}

/// A claimed run's record arrived: it takes a slot now (or ends, if shutdown began).
pub(super) async fn on_claimed(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    record: Arc<RunRecord>,
) {
    if let Some(claims) = &state.claims {
        claims.gate.claiming.fetch_sub(1, Ordering::AcqRel);
    }
    state.args.reader.registry.insert(record.id, record.clone());
    if let Some(record) = unless_shutting_down(state, record) {
        start_session(myself, state, record).await;
    }
    update_gauges(state);
}

/// Another node asked to cancel a run this node runs; or the store fenced one out.
pub(super) fn stop_local(state: &SupervisorState, run_id: RunId, reason: StopReason) {
    if let Some(record) = state.args.reader.registry.get(&run_id) {
        record.control.stop(reason);
    }
}

/// A run whose slot was freed: when this node was fenced out of it, it leaves the registry at
/// once (the shared store has the outcome another node decided) and true is returned. Either
/// way, the freed slot may take a queued run now.
pub(super) fn forget_fenced(state: &SupervisorState, run_id: RunId) -> bool {
    let registry = &state.args.reader.registry;
    let fenced = registry.get(&run_id).is_some_and(|r| r.control.is_fenced());
    if fenced {
        registry.remove(&run_id);
    }
    if let Some(claims) = &state.claims {
        claims.wake();
    }
    fenced
}

/// The host's reply port for a cancel.
type CancelReply = tokio::sync::oneshot::Sender<Result<CancelAck, CancelError>>;

/// With a shared store, a cancel of a run this node does not hold goes through the store (the
/// reply follows when it is done); otherwise the reply comes back for the local cancel.
pub(super) fn cancel_elsewhere(
    state: &SupervisorState,
    run_id: RunId,
    reply: CancelReply,
) -> Option<CancelReply> {
    match &state.claims {
        Some(claims) if !state.args.reader.registry.contains_key(&run_id) => {
            cancel_shared(claims.shared.clone(), run_id, reply);
            None
        }
        _ => Some(reply),
    }
}

/// Cancels a run this node does not hold, through the shared store; answers `reply` when done.
fn cancel_shared(shared: Arc<dyn SharedRuns>, run_id: RunId, reply: CancelReply) {
    tokio::spawn(async move {
        let answer = match shared.cancel(run_id).await {
            Ok(SharedCancel::NotFound) => Err(CancelError::NotFound(run_id)),
            Ok(SharedCancel::AlreadyFinished) => Ok(CancelAck::AlreadyFinished),
            Ok(SharedCancel::CancelledQueued | SharedCancel::Requested) => {
                Ok(CancelAck::Cancelling)
            }
            Err(error) => {
                tracing::error!(%run_id, %error, "cancel through the shared store failed");
                Err(CancelError::Unavailable)
            }
        };
        let _ = reply.send(answer);
    });
}
