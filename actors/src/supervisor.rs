//! The Supervisor actor: owns the run registry and the admission queue, spawns a Session per
//! run, and survives anything a run does.
//!
//! Admission is explicit backpressure: at most `max_concurrent_runs` sessions run, at most
//! `queue_capacity` runs wait (FIFO), and past that `submit` answers `QueueFull` at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{broadcast, oneshot};

use crate::command::{
    CancelAck, CancelError, Command, EngineStats, EventSubscription, ShutdownReport, SubmitError,
};
use crate::config::Config;
use crate::event::{EventKind, EventLog, RunEvent};
use crate::finalizer::{FinalizeJob, FinalizerActor, FinalizerArgs, FinalizerMsg};
use crate::page_driver::BrowserLauncher;
use crate::record::{RunRecord, StopReason};
use crate::request::RunRequest;
use crate::run::{ErrorCode, RunError, RunId, RunOutcome, RunState, RunStatus};
use crate::session::{SessionActor, SessionArgs, SessionMsg};
use crate::store::RunStore;

/// The registry: every run this orchestrator has in memory.
pub(crate) type Registry = Arc<DashMap<RunId, Arc<RunRecord>>>;

/// Messages of the Supervisor.
pub(crate) enum SupervisorMsg {
    /// A host command.
    Command(Command),
    /// A run's terminal state is committed; its slot is free.
    RunFinalized(RunId),
    /// The shutdown grace period is over.
    GraceExpired,
    /// Time to move finished runs past their age out of memory.
    Evict,
}

/// How often finished runs are checked against `registry.max_finished_age_seconds`.
const EVICT_INTERVAL: Duration = Duration::from_secs(10);

/// Startup arguments of the Supervisor.
pub(crate) struct SupervisorArgs {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn RunStore>,
    pub(crate) launcher: Arc<dyn BrowserLauncher>,
    pub(crate) firehose: broadcast::Sender<RunEvent>,
    pub(crate) registry: Registry,
    pub(crate) uploader: Arc<crate::recording::upload::Uploader>,
    pub(crate) llm: crate::agent::SharedLlm,
}

struct ShutdownState {
    reply: Option<oneshot::Sender<ShutdownReport>>,
    report: ShutdownReport,
    grace_over: bool,
}

/// Supervisor state.
pub(crate) struct SupervisorState {
    args: SupervisorArgs,
    finalizer: ActorRef<FinalizerMsg>,
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
        let evict_timer = myself.send_interval(EVICT_INTERVAL, || SupervisorMsg::Evict);
        Ok(SupervisorState {
            args,
            finalizer,
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
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Command(command) => on_command(&myself, state, command).await,
            SupervisorMsg::RunFinalized(run_id) => on_run_finalized(&myself, state, run_id).await,
            SupervisorMsg::GraceExpired => on_grace_expired(&myself, state),
            SupervisorMsg::Evict => evict_finished(state),
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
                } else if let Some(run_id) = state.sessions.remove(&cell.get_id()) {
                    on_session_failed(state, run_id, error.to_string());
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                state.sessions.remove(&cell.get_id());
            }
            _ => {}
        }
        Ok(())
    }
}

async fn spawn_finalizer(
    myself: &ActorRef<SupervisorMsg>,
    args: &SupervisorArgs,
) -> Result<ActorRef<FinalizerMsg>, ActorProcessingErr> {
    let (finalizer, _) = Actor::spawn_linked(
        None,
        FinalizerActor,
        FinalizerArgs {
            uploader: args.uploader.clone(),
            supervisor: myself.clone(),
            close_timeout: Duration::from_millis(args.config.timeouts.close_ms),
            close_call_timeout: Duration::from_millis(
                args.config.timeouts.close_ms + args.config.timeouts.actor_call_ms,
            ),
        },
        myself.get_cell(),
    )
    .await?;
    Ok(finalizer)
}

async fn on_command(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    command: Command,
) {
    match command {
        Command::Submit { request, reply } => {
            let result = on_submit(myself, state, *request).await;
            let _ = reply.send(result);
        }
        Command::Status { run_id, reply } => {
            let status = match state.args.registry.get(&run_id) {
                Some(record) => Some(record.snapshot()),
                None => state.args.store.load_status(run_id),
            };
            let _ = reply.send(status);
        }
        Command::Cancel { run_id, reply } => {
            let _ = reply.send(on_cancel(state, run_id));
        }
        Command::List { reply } => {
            let _ = reply.send(list(state));
        }
        Command::Subscribe {
            run_id,
            after_seq,
            reply,
        } => {
            let _ = reply.send(subscribe(state, run_id, after_seq));
        }
        Command::SubscribeAll { reply } => {
            let _ = reply.send(state.args.firehose.subscribe());
        }
        Command::Stats { reply } => {
            let _ = reply.send(EngineStats {
                runs_in_memory: state.args.registry.len(),
                finished_in_memory: state.finished.len(),
                active: state.active.len(),
                queued: state.queue.len(),
            });
        }
        Command::Shutdown { grace, reply } => on_shutdown(myself, state, grace, reply),
    }
}

async fn on_submit(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    mut request: RunRequest,
) -> Result<RunId, SubmitError> {
    if state.shutdown.is_some() {
        return Err(SubmitError::ShuttingDown);
    }
    let config = &state.args.config;
    request.validate(config)?;
    request.inline_playbook(config);
    let has_slot = state.active.len() < config.max_concurrent_runs;
    if !has_slot && state.queue.len() >= config.queue_capacity {
        return Err(SubmitError::QueueFull {
            running: state.active.len(),
            queued: state.queue.len(),
            capacity: config.queue_capacity,
        });
    }
    let record = create_record(state, request)?;
    let position = if has_slot { 0 } else { state.queue.len() + 1 };
    record.emit(EventKind::Queued { position });
    let run_id = record.id;
    if has_slot {
        start_session(myself, state, record).await;
    } else {
        state.queue.push_back(record);
    }
    update_gauges(state);
    Ok(run_id)
}

fn create_record(
    state: &SupervisorState,
    request: RunRequest,
) -> Result<Arc<RunRecord>, SubmitError> {
    let run_id = RunId::new();
    let store = &state.args.store;
    let storage = |e: std::io::Error| SubmitError::Storage(e.to_string());
    let dir = store.create_run(run_id).map_err(storage)?;
    let file = store.open_log(run_id).map_err(storage)?;
    let log = EventLog::new(run_id, file, Vec::new(), state.args.firehose.clone());
    let status = RunStatus::new_queued(run_id, request.driver.type_name(), request.labels.clone());
    let limits = request.limits.effective(&state.args.config);
    let plan = request.recording.plan(&state.args.config.recording);
    let record = RunRecord::new(request, limits, dir, log, status, store.clone(), plan);
    // The host learns the id only once the run is in the store.
    record.persist_now().map_err(storage)?;
    state.args.registry.insert(run_id, record.clone());
    Ok(record)
}

async fn start_session(
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
    };
    match Actor::spawn_linked(None, SessionActor, args, myself.get_cell()).await {
        Ok((session, _)) => {
            state.sessions.insert(session.get_id(), run_id);
            state.active.insert(run_id, Some(session));
        }
        Err(e) => on_session_failed(state, run_id, format!("session did not start: {e}")),
    }
}

/// A session died (a bug): its children died with it, and their drop guards killed the
/// browser. The run is finalized as an internal error.
fn on_session_failed(state: &mut SupervisorState, run_id: RunId, error: String) {
    tracing::error!(%run_id, %error, "session failed");
    let Some(record) = state.args.registry.get(&run_id).map(|r| r.clone()) else {
        return;
    };
    record.control.stop(StopReason::Internal(error.clone()));
    let outcome = RunOutcome::failed(RunError::new(
        ErrorCode::InternalError,
        format!("internal error: {error}"),
    ));
    finalize_without_session(state, record, outcome);
}

fn finalize_without_session(state: &SupervisorState, record: Arc<RunRecord>, outcome: RunOutcome) {
    if record.claim_finalization() {
        let job = FinalizeJob {
            record,
            outcome,
            browser: None,
        };
        let _ = state.finalizer.cast(FinalizerMsg::Finalize(Box::new(job)));
    }
}

async fn on_run_finalized(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    run_id: RunId,
) {
    let never_started = state.finalizing_unstarted.remove(&run_id);
    state.finished.push_back((run_id, Instant::now()));
    evict_finished(state);
    if let Some(session) = state.active.remove(&run_id).flatten() {
        session.stop(None);
    }
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

/// Moves finished runs past the count or age bound out of memory; the store serves them from
/// then on. A run whose final status never reached the store stays: it is the only copy.
fn evict_finished(state: &mut SupervisorState) {
    let bound = &state.args.config.registry;
    let max_age = Duration::from_secs(bound.max_finished_age_seconds);
    while let Some(&(run_id, at)) = state.finished.front() {
        if state.finished.len() <= bound.max_finished_runs && at.elapsed() <= max_age {
            break;
        }
        state.finished.pop_front();
        let registry = &state.args.registry;
        if registry.get(&run_id).is_some_and(|r| r.is_committed()) {
            registry.remove(&run_id);
        } else {
            tracing::warn!(%run_id, "finished run kept in memory: its status is not in the store");
        }
    }
}

fn on_cancel(state: &mut SupervisorState, run_id: RunId) -> Result<CancelAck, CancelError> {
    let Some(record) = state.args.registry.get(&run_id).map(|r| r.clone()) else {
        return match state.args.store.load_status(run_id) {
            Some(_) => Ok(CancelAck::AlreadyFinished),
            None => Err(CancelError::NotFound(run_id)),
        };
    };
    if record.status().state.is_terminal() {
        return Ok(CancelAck::AlreadyFinished);
    }
    if let Some(pos) = state.queue.iter().position(|r| r.id == run_id) {
        state.queue.remove(pos);
        state.finalizing_unstarted.insert(run_id);
        record.control.stop(StopReason::Cancelled);
        finalize_without_session(
            state,
            record,
            RunOutcome::cancelled("cancelled while queued"),
        );
        update_gauges(state);
    } else {
        record.control.stop(StopReason::Cancelled);
    }
    Ok(CancelAck::Cancelling)
}

fn list(state: &SupervisorState) -> Vec<RunStatus> {
    let registry = &state.args.registry;
    let mut all: Vec<RunStatus> = registry.iter().map(|r| r.snapshot()).collect();
    for run_id in state.args.store.run_ids() {
        if !registry.contains_key(&run_id) {
            if let Some(status) = state.args.store.load_status(run_id) {
                all.push(status);
            }
        }
    }
    all.sort_by_key(|s| (s.created_at, s.run_id));
    all
}

fn subscribe(state: &SupervisorState, run_id: RunId, after_seq: u64) -> Option<EventSubscription> {
    if let Some(record) = state.args.registry.get(&run_id) {
        return Some(EventSubscription::live(record.clone(), after_seq));
    }
    let events = state.args.store.load_events(run_id);
    if events.is_empty() && state.args.store.load_status(run_id).is_none() {
        return None;
    }
    Some(EventSubscription::stored(events, after_seq))
}

fn on_shutdown(
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
    let mut report = ShutdownReport::default();
    for record in std::mem::take(&mut state.queue) {
        state.finalizing_unstarted.insert(record.id);
        record.control.stop(StopReason::Shutdown);
        finalize_without_session(
            state,
            record,
            RunOutcome::cancelled("orchestrator shut down before the run started"),
        );
        report.cancelled += 1;
    }
    state.shutdown = Some(ShutdownState {
        reply: Some(reply),
        report,
        grace_over: false,
    });
    let timer = myself.clone();
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        let _ = timer.cast(SupervisorMsg::GraceExpired);
    });
    update_gauges(state);
    finish_shutdown_if_idle(myself, state);
}

fn on_grace_expired(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
    let Some(shutdown) = state.shutdown.as_mut() else {
        return;
    };
    shutdown.grace_over = true;
    for run_id in state.active.keys() {
        if let Some(record) = state.args.registry.get(run_id) {
            record.control.stop(StopReason::Shutdown);
            shutdown.report.cancelled += 1;
        }
    }
    finish_shutdown_if_idle(myself, state);
}

fn finish_shutdown_if_idle(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
    let idle = state.active.is_empty() && state.finalizing_unstarted.is_empty();
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

fn update_gauges(state: &SupervisorState) {
    metrics::gauge!("pilothouse_runs_active").set(state.active.len() as f64);
    metrics::gauge!("pilothouse_runs_queued").set(state.queue.len() as f64);
}
