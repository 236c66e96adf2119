//! The Supervisor actor: owns the run registry and the admission queue, spawns a Session per
//! run, and survives anything a run does.
//!
//! Admission is explicit backpressure: at most `max_concurrent_runs` sessions run, at most
//! `queue_capacity` runs wait (FIFO), and past that `submit` answers `QueueFull` at once.
//!
//! A run's slot is freed exactly once: when its Session ends (it stops itself once the
//! Finalizer has committed the run), or, for a run finalized without a session (cancelled while
//! queued, or whose session failed first), when the Finalizer's reply arrives.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::admission::{AdmissionWriter, Admitted, ClaimArgs, SubmitReply, WriterArgs};
use crate::cluster::SharedRuns;
use crate::command::{CancelAck, CancelError, Command, SubmitError};
use crate::config::Config;
use crate::event::EventKind;
use crate::finalizer::{FinalArtifacts, FinalizeJob, FinalizerMsg};
use crate::handle::Reader;
use crate::page_driver::BrowserLauncher;
use crate::pool::PoolMsg;
use crate::record::{RunRecord, StopReason};
use crate::request::RunRequest;
use crate::run::{ErrorCode, RunError, RunId, RunOutcome, RunState};
use crate::session::{SessionActor, SessionArgs, SessionMsg};

mod children;
mod claims;
mod memory;
mod shutdown;

use children::{spawn_finalizer, spawn_pool};
use memory::evict_finished;
use memory::update_gauges;

use shutdown::{
    ShutdownState, finish_shutdown_if_idle, on_grace_expired, on_shutdown, unless_shutting_down,
};

/// Messages of the Supervisor.
pub(crate) enum SupervisorMsg {
    /// A host command.
    Command(Command),
    /// The admission writer validated a submitted run and wrote it to the store (or failed).
    Prepared {
        /// The stored run, or why it was refused.
        result: Result<Admitted, SubmitError>,
        /// The host's reply port.
        reply: SubmitReply,
    },
    /// A run finalized without a session is committed (the Finalizer's reply, relayed by the
    /// task that waited for it), or a run's session ended: its slot is free.
    RunFinalized(RunId),
    /// The shutdown grace period is over.
    GraceExpired,
    /// Time to move finished runs past their age out of memory.
    Evict,
    /// A run this node claimed from the shared queue, ready to start.
    Claimed(Arc<RunRecord>),
    /// Another node asked to cancel a run this node runs.
    CancelRequested(RunId),
    /// The shared store no longer takes this node's writes for the run.
    Fenced(RunId),
}

/// How often finished runs are checked against `registry.max_finished_age_seconds`.
const EVICT_INTERVAL: Duration = Duration::from_secs(10);

/// Startup arguments of the Supervisor.
pub(crate) struct SupervisorArgs {
    pub(crate) config: Arc<Config>,
    pub(crate) launcher: Arc<dyn BrowserLauncher>,
    /// The registry, store, firehose and published counts, shared with the hosts' handles.
    pub(crate) reader: Arc<Reader>,
    pub(crate) uploader: Arc<crate::recording::upload::Uploader>,
    pub(crate) llm: crate::llm::SharedLlm,
    /// The shared store, when several nodes share one.
    pub(crate) shared: Option<Arc<dyn SharedRuns>>,
}

/// Supervisor state.
pub(crate) struct SupervisorState {
    args: SupervisorArgs,
    /// This actor, for the tasks that relay the Finalizer's replies to it.
    myself: ActorRef<SupervisorMsg>,
    finalizer: ActorRef<FinalizerMsg>,
    /// Validates and stores submitted runs off this actor.
    writer: AdmissionWriter,
    /// Submits handed to the writer and not yet answered; they count against capacity.
    admitting: usize,
    queue: VecDeque<Arc<RunRecord>>,
    /// Runs holding a concurrency slot, with their session once spawned.
    active: HashMap<RunId, Option<ActorRef<SessionMsg>>>,
    sessions: HashMap<ActorId, RunId>,
    /// Runs finalized without a session (cancelled while queued), not yet committed.
    finalizing_unstarted: HashSet<RunId>,
    /// Finished runs in memory, oldest first, with when they finished.
    finished: VecDeque<(RunId, Instant)>,
    shutdown: Option<ShutdownState>,
    evict_timer: tokio::task::JoinHandle<()>,
    /// The warm browser pool, when the launcher's browsers can be shared.
    pool: Option<ActorRef<PoolMsg>>,
    /// Claiming from the shared queue, when several nodes share one store.
    claims: Option<claims::Claims>,
}

/// The root of the actor tree.
pub(crate) struct SupervisorActor;

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let finalizer = spawn_finalizer(&myself, &args).await?;
        let answer = myself.clone();
        let writer = AdmissionWriter::start(WriterArgs {
            config: args.config.clone(),
            store: args.reader.store.clone(),
            firehose: args.reader.firehose.clone(),
            shared: args.shared.clone(),
            done: Box::new(move |result, reply| {
                answer
                    .cast(SupervisorMsg::Prepared { result, reply })
                    .is_ok()
            }),
        })?;
        let evict_timer = myself.send_interval(EVICT_INTERVAL, || SupervisorMsg::Evict);
        let pool = spawn_pool(&myself, &args).await?;
        let claims = args.shared.clone().map(|shared| {
            let claim_args = ClaimArgs {
                config: args.config.clone(),
                store: args.reader.store.clone(),
                firehose: args.reader.firehose.clone(),
            };
            let max = args.config.max_concurrent_runs;
            claims::Claims::start(shared, myself.clone(), claim_args, args.reader.clone(), max)
        });
        Ok(SupervisorState {
            claims,
            pool,
            args,
            myself: myself.clone(),
            finalizer,
            writer,
            admitting: 0,
            queue: VecDeque::new(),
            active: HashMap::new(),
            sessions: HashMap::new(),
            finalizing_unstarted: HashSet::new(),
            finished: VecDeque::new(),
            shutdown: None,
            evict_timer,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.evict_timer.abort();
        if let Some(claims) = state.claims.take() {
            claims.stop().await;
        }
        // The pool's processes end with the orchestrator, before `join` returns.
        if let Some(pool) = state.pool.take() {
            let _ = pool
                .stop_and_wait(Some("shutdown".into()), Some(Duration::from_secs(15)))
                .await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Command(command) => on_command(&myself, state, command),
            SupervisorMsg::Prepared { result, reply } => {
                on_prepared(&myself, state, result, reply).await
            }
            SupervisorMsg::RunFinalized(run_id) => on_run_finalized(&myself, state, run_id).await,
            SupervisorMsg::GraceExpired => on_grace_expired(&myself, state),
            SupervisorMsg::Evict => evict_finished(state),
            SupervisorMsg::Claimed(record) => claims::on_claimed(&myself, state, record).await,
            SupervisorMsg::CancelRequested(run_id) => {
                claims::stop_local(state, run_id, StopReason::Cancelled)
            }
            SupervisorMsg::Fenced(run_id) => claims::stop_local(state, run_id, StopReason::Fenced),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // ractor's default stops the supervisor when a child dies; no run may stop the
        // orchestrator, so every child exit is handled here.
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                if cell.get_id() == state.finalizer.get_id() {
                    tracing::error!(%error, "finalizer failed; restarting it");
                    state.finalizer = spawn_finalizer(&myself, &state.args).await?;
                } else if state.pool.as_ref().map(|p| p.get_id()) == Some(cell.get_id()) {
                    // Its state's drop killed its processes; runs on them fail BROWSER_CRASHED.
                    tracing::error!(%error, "browser pool failed; restarting it");
                    state.pool = spawn_pool(&myself, &state.args).await?;
                } else if let Some(run_id) = state.sessions.remove(&cell.get_id())
                    && !on_session_failed(state, run_id, error.to_string())
                {
                    // The session had handed its run to the finalizer already (its
                    // wind-down task outlives it and commits the run): nothing else
                    // holds the slot.
                    on_run_finalized(&myself, state, run_id).await;
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                // A session stops itself once its run is committed: its slot is free.
                if let Some(run_id) = state.sessions.remove(&cell.get_id()) {
                    on_run_finalized(&myself, state, run_id).await;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn on_command(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, command: Command) {
    match command {
        Command::Submit { request, reply } => on_submit(state, *request, reply),
        Command::Cancel { run_id, reply } => {
            if let Some(reply) = claims::cancel_elsewhere(state, run_id, reply) {
                let _ = reply.send(on_cancel(state, run_id));
            }
        }
        Command::Shutdown { grace, reply } => on_shutdown(myself, state, grace, reply),
        // Reads are served from the registry and the store index, never queued behind this
        // actor; the pump hands them to the reader, and so does this arm if one arrives here.
        read => {
            let _ = state.args.reader.serve(read);
        }
    }
}

/// Checks capacity and hands the request to the admission writer; the host's answer follows
/// in [`on_prepared`] once the run is in the store.
fn on_submit(state: &mut SupervisorState, request: RunRequest, reply: SubmitReply) {
    if state.shutdown.is_some() {
        let _ = reply.send(Err(SubmitError::ShuttingDown));
        return;
    }
    let config = &state.args.config;
    let waiting = state.queue.len() + state.admitting;
    // With a shared store, the store counts its queue; only submits in flight count here.
    let full = match state.claims {
        Some(_) => state.admitting >= config.queue_capacity,
        None => state.active.len() + waiting >= config.max_concurrent_runs + config.queue_capacity,
    };
    if full {
        let _ = reply.send(Err(SubmitError::QueueFull {
            running: state.active.len(),
            queued: waiting,
            capacity: config.queue_capacity,
        }));
        return;
    }
    match state.writer.submit(request, reply) {
        Ok(()) => state.admitting += 1,
        Err(reply) => {
            let _ = reply.send(Err(SubmitError::Storage(
                "the admission writer has stopped".into(),
            )));
        }
    }
}

/// A submitted run is in the store (or was refused): register it and start or queue it.
async fn on_prepared(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    result: Result<Admitted, SubmitError>,
    reply: SubmitReply,
) {
    state.admitting -= 1;
    let record = match result {
        Ok(Admitted::Local(record)) => record,
        Ok(Admitted::Shared(run_id)) => {
            let _ = reply.send(Ok(run_id));
            if let Some(claims) = &state.claims {
                claims.wake();
            }
            finish_shutdown_if_idle(myself, state);
            return;
        }
        Err(error) => {
            let _ = reply.send(Err(error));
            finish_shutdown_if_idle(myself, state);
            return;
        }
    };
    let run_id = record.id;
    state.args.reader.registry.insert(run_id, record.clone());
    if let Some(record) = unless_shutting_down(state, record) {
        let has_slot = state.active.len() < state.args.config.max_concurrent_runs;
        let position = if has_slot { 0 } else { state.queue.len() + 1 };
        record.emit(EventKind::Queued { position });
        if has_slot {
            start_session(myself, state, record).await;
        } else {
            state.queue.push_back(record);
        }
    }
    update_gauges(state);
    let _ = reply.send(Ok(run_id));
}

/// Finalizes a run that never got a session (cancelled while queued, or by shutdown).
pub(super) fn cancel_unstarted(
    state: &mut SupervisorState,
    record: Arc<RunRecord>,
    reason: StopReason,
    why: &str,
) {
    let run_id = record.id;
    record.control.stop(reason);
    if finalize_without_session(state, record, RunOutcome::cancelled(why)) {
        state.finalizing_unstarted.insert(run_id);
    }
}

pub(super) async fn start_session(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    record: Arc<RunRecord>,
) {
    let run_id = record.id;
    state.active.insert(run_id, None);
    // `starting` means "holds a slot": announced here, in admission order.
    record.set_state(RunState::Starting);
    let args = SessionArgs {
        record: record.clone(),
        config: state.args.config.clone(),
        launcher: state.args.launcher.clone(),
        finalizer: state.finalizer.clone(),
        llm: state.args.llm.clone(),
        pool: state.pool.clone(),
    };
    match Actor::spawn_linked(None, SessionActor, args, myself.get_cell()).await {
        Ok((session, _)) => {
            state.sessions.insert(session.get_id(), run_id);
            state.active.insert(run_id, Some(session));
        }
        Err(e) => {
            if !on_session_failed(state, run_id, format!("session did not start: {e}")) {
                state.active.remove(&run_id);
            }
        }
    }
}

/// A session died (a bug): its children died with it, and their drop guards killed the
/// browser. The run is finalized as an internal error, unless its session had handed it to
/// the finalizer already. Returns whether it is being finalized from here (its slot is then
/// freed when the finalizer replies).
fn on_session_failed(state: &mut SupervisorState, run_id: RunId, error: String) -> bool {
    tracing::error!(%run_id, %error, "session failed");
    let Some(record) = state.args.reader.registry.get(&run_id).map(|r| r.clone()) else {
        return false;
    };
    record.control.stop(StopReason::Internal(error.clone()));
    let outcome = RunOutcome::failed(RunError::new(
        ErrorCode::InternalError,
        format!("internal error: {error}"),
    ));
    finalize_without_session(state, record, outcome)
}

/// Hands a run that has no session to the finalizer. A task waits for the finalizer's reply
/// (the run is committed, or the finalizer is gone) and relays it as `RunFinalized`, which
/// frees the run's slot; it only awaits and casts, so it needs no supervision of its own.
/// Returns false when the run was already being finalized.
fn finalize_without_session(
    state: &SupervisorState,
    record: Arc<RunRecord>,
    outcome: RunOutcome,
) -> bool {
    if !record.claim_finalization() {
        return false;
    }
    let run_id = record.id;
    let job = FinalizeJob {
        record,
        outcome,
        artifacts: FinalArtifacts::none(),
    };
    let finalizer = state.finalizer.clone();
    let myself = state.myself.clone();
    tokio::spawn(async move {
        let _ = finalizer
            .call(|reply| FinalizerMsg::Finalize(Box::new(job), reply), None)
            .await;
        let _ = myself.cast(SupervisorMsg::RunFinalized(run_id));
    });
    true
}

/// Frees a run's slot, once: later calls for the same run do nothing.
async fn on_run_finalized(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    run_id: RunId,
) {
    let never_started = state.finalizing_unstarted.remove(&run_id);
    let held_slot = state.active.remove(&run_id).is_some();
    if !never_started && !held_slot {
        return;
    }
    if !claims::forget_fenced(state, run_id) {
        state.finished.push_back((run_id, Instant::now()));
    }
    evict_finished(state);
    if let Some(shutdown) = state.shutdown.as_mut() {
        // Queued runs cancelled by the shutdown are already counted as cancelled.
        if !shutdown.grace_over && !never_started {
            shutdown.report.finished_in_grace += 1;
        }
    } else {
        admit_queued(myself, state).await;
    }
    update_gauges(state);
    finish_shutdown_if_idle(myself, state);
}

async fn admit_queued(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
    while state.active.len() < state.args.config.max_concurrent_runs {
        let Some(record) = state.queue.pop_front() else {
            break;
        };
        start_session(myself, state, record).await;
    }
}

fn on_cancel(state: &mut SupervisorState, run_id: RunId) -> Result<CancelAck, CancelError> {
    let reader = &state.args.reader;
    let Some(record) = reader.registry.get(&run_id).map(|r| r.clone()) else {
        // A run not in memory is finished; the index knows every stored run without a read.
        return match reader.index.contains(run_id) {
            true => Ok(CancelAck::AlreadyFinished),
            false => Err(CancelError::NotFound(run_id)),
        };
    };
    if record.status().state.is_terminal() {
        return Ok(CancelAck::AlreadyFinished);
    }
    if let Some(pos) = state.queue.iter().position(|r| r.id == run_id) {
        state.queue.remove(pos);
        cancel_unstarted(
            state,
            record,
            StopReason::Cancelled,
            "cancelled while queued",
        );
        update_gauges(state);
    } else {
        record.control.stop(StopReason::Cancelled);
    }
    Ok(CancelAck::Cancelling)
}
