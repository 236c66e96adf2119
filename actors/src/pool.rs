//! The BrowserPool actor: warm Chromium processes that serve runs a fresh context each
//! (`isolation = "context"`), under the Supervisor.
//!
//! It keeps `[browser] pool_processes` processes up and `spare_contexts` contexts open and
//! waiting, so a run's first action does not wait for a browser. A lease hands a run a spare
//! (or, when none is ready, the next one made); the run arms it and holds it until it ends.
//! A process is retired after `recycle_after_contexts` leases or above `max_process_mb`
//! (once its runs end), and replaced when it dies — its runs fail `BROWSER_CRASHED` on their
//! own, nobody else's do. Every Chromium start and context creation runs in a task, never in
//! a handler; the actor only counts and hands out.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::chromium::pool::{ArmError, Host, HostSpec, Release, Spare, group_pss_bytes};
use crate::config::Config;
use crate::page_driver::{BrowserError, CloseMode, LaunchSpec, PageDriver};

mod book;

use book::{Book, HostId};

/// How often the pool measures its processes' memory and checks that they answer.
const MEASURE_INTERVAL: Duration = Duration::from_secs(5);

/// How long a pooled browser has to answer a health probe after one of its runs ended badly
/// before it is replaced.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The same for the periodic probe: long, so a browser that is only busy on a loaded machine
/// is not mistaken for a hung one.
const IDLE_PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// What a lease waits for: a spare context, or why there is none.
pub(crate) type LeaseReply = RpcReplyPort<Result<(HostId, Spare), String>>;

/// Messages of the BrowserPool.
pub(crate) enum PoolMsg {
    /// A run wants a context.
    Lease(LeaseReply),
    /// A run's lease ended; `crashed` when its page or context did not end cleanly.
    Released { host: HostId, crashed: bool },
    /// A process finished starting (or failed to).
    Started(HostId, Result<Box<Host>, String>),
    /// A spare context was made (or could not be).
    Made(HostId, Result<Spare, String>),
    /// A process's DevTools connection ended without the pool asking, or it stopped
    /// answering (hung or frozen): either way it is replaced.
    Died(HostId),
    /// Time to measure memory.
    Measure,
    /// The memory of each process, measured off the runtime.
    Measured(Vec<(HostId, u64)>),
}

/// Startup arguments.
pub(crate) struct PoolArgs {
    pub(crate) config: Arc<Config>,
    /// Where `stats()` reads the pool's numbers, and warm-up is awaited.
    pub(crate) published: Arc<tokio::sync::watch::Sender<Option<PoolStats>>>,
}

/// Pool state: the book of processes and spares, and leases waiting.
pub(crate) struct PoolState {
    args: PoolArgs,
    book: Book<Host, Spare>,
    waiting: VecDeque<LeaseReply>,
    timer: Option<tokio::task::JoinHandle<()>>,
    /// Remote hosts and the endpoint each serves.
    endpoints: std::collections::HashMap<HostId, String>,
}

/// The warm pool.
pub(crate) struct PoolActor;

impl Actor for PoolActor {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = PoolArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: PoolArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = PoolState {
            book: Book::new(&args.config.browser),
            args,
            waiting: VecDeque::new(),
            timer: None,
            endpoints: Default::default(),
        };
        state.timer = Some(myself.send_interval(MEASURE_INTERVAL, || PoolMsg::Measure));
        replenish(&myself, &mut state);
        publish(&state);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PoolMsg::Lease(reply) => on_lease(state, reply),
            PoolMsg::Released { host, crashed } => {
                tracing::debug!(host, crashed, "lease ended");
                state.book.released(host);
                if crashed {
                    // A run's page or close went wrong: make sure its browser still answers.
                    probe(&myself, state, host, PROBE_TIMEOUT);
                }
            }
            PoolMsg::Started(id, result) => on_started(&myself, state, id, result),
            PoolMsg::Made(id, result) => on_made(state, id, result),
            PoolMsg::Died(id) => {
                tracing::warn!(host = id, "a pooled browser is gone; replacing it");
                state.book.died(id);
            }
            PoolMsg::Measure => {
                measure(&myself, state);
                let ids: Vec<HostId> = state.book.hosts().map(|(id, _)| id).collect();
                for id in ids {
                    probe(&myself, state, id, IDLE_PROBE_TIMEOUT);
                }
            }
            PoolMsg::Measured(sizes) => state.book.measured(&sizes),
        }
        for host in state.book.take_closable() {
            tokio::spawn(host.close(CloseMode::Kill));
        }
        replenish(&myself, state);
        publish(state);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(timer) = state.timer.take() {
            timer.abort();
        }
        for reply in state.waiting.drain(..) {
            let _ = reply.send(Err("the orchestrator is shutting down".into()));
        }
        let hosts = state.book.drain();
        let closing = hosts.into_iter().map(|host| host.close(CloseMode::Kill));
        futures::future::join_all(closing).await;
        state.args.published.send_replace(None);
        Ok(())
    }
}

fn on_lease(state: &mut PoolState, reply: LeaseReply) {
    if let Some(leased) = state.book.take_spare() {
        hand_out(state, reply, leased);
    } else if let Some(error) = state.book.unavailable() {
        let _ = reply.send(Err(error));
    } else {
        state.waiting.push_back(reply);
    }
}

fn on_started(
    myself: &ActorRef<PoolMsg>,
    state: &mut PoolState,
    id: HostId,
    result: Result<Box<Host>, String>,
) {
    match result {
        Ok(host) => {
            let dead = host.dead();
            let pool = myself.clone();
            tokio::spawn(async move {
                dead.cancelled().await;
                let _ = pool.cast(PoolMsg::Died(id));
            });
            tracing::info!(host = id, pid = host.pid(), "pooled browser ready");
            state.book.started(id, *host);
        }
        Err(error) => {
            tracing::error!(host = id, %error, "a pooled browser did not start");
            state.book.start_failed(id, error.clone());
            // Nobody else will serve the runs waiting: tell them why.
            if state.book.unavailable().is_some() {
                for reply in state.waiting.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

fn on_made(state: &mut PoolState, id: HostId, result: Result<Spare, String>) {
    match result {
        Ok(spare) => {
            if let Some(spare) = state.book.made(id, spare) {
                match state.waiting.pop_front() {
                    Some(reply) => {
                        let leased = state.book.lease(id, spare);
                        hand_out(state, reply, leased);
                    }
                    None => state.book.keep_spare(id, spare),
                }
            }
        }
        Err(error) => {
            tracing::warn!(host = id, %error, "a spare context could not be made");
            state.book.make_failed(id);
            if let Some(reply) = state.waiting.pop_front() {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// A context for the run `spec` describes, from the pool: a spare armed with the run's
/// guardrails, viewport and downloads, held until the driver is closed or dropped.
pub(crate) async fn lease(
    pool: ActorRef<PoolMsg>,
    spec: LaunchSpec,
) -> Result<Box<dyn PageDriver>, BrowserError> {
    let failed = |reason: String| BrowserError::Launch { reason };
    // A broken spare (its renderer died while it waited) costs one more lease, not the run.
    let mut attempts = 2;
    loop {
        attempts -= 1;
        let (host, spare) = take(&pool, &spec).await.map_err(failed)?;
        let pool = pool.clone();
        let release: Release = Box::new(move |crashed| {
            let _ = pool.cast(PoolMsg::Released { host, crashed });
        });
        let arm = tokio::time::timeout(spec.launch_timeout, spare.arm(&spec, release));
        match arm.await {
            Ok(Ok(driver)) => return Ok(Box::new(driver)),
            Ok(Err(ArmError::Run(message))) => return Err(failed(message)),
            Ok(Err(ArmError::Spare(message))) if attempts == 0 => return Err(failed(message)),
            Ok(Err(ArmError::Spare(message))) => {
                tracing::warn!(host, %message, "a spare context could not be armed; taking another");
            }
            Err(_) => {
                return Err(BrowserError::LaunchTimeout {
                    limit: spec.launch_timeout,
                });
            }
        }
    }
}

/// One spare from the pool, within the launch bound.
async fn take(pool: &ActorRef<PoolMsg>, spec: &LaunchSpec) -> Result<(HostId, Spare), String> {
    match pool.call(PoolMsg::Lease, Some(spec.launch_timeout)).await {
        Ok(ractor::rpc::CallResult::Success(result)) => result,
        Ok(ractor::rpc::CallResult::Timeout) => Err(format!(
            "no pooled browser context within {} ms",
            spec.launch_timeout.as_millis()
        )),
        _ => Err("the browser pool is not running".into()),
    }
}

/// Sends a lease; when the run went away meanwhile, the lease ends unused (the spare's drop
/// disposes its context).
fn hand_out(state: &mut PoolState, reply: LeaseReply, (host, spare): (HostId, Spare)) {
    if reply.send(Ok((host, spare))).is_err() {
        state.book.released(host);
    }
}

/// Starts processes and spare contexts until the book is at its targets.
fn replenish(myself: &ActorRef<PoolMsg>, state: &mut PoolState) {
    while let Some(id) = state.book.next_start() {
        let mut spec = host_spec(&state.args.config);
        spec.connect = next_endpoint(state, id);
        let pool = myself.clone();
        tokio::spawn(async move {
            let result = Host::start(spec).await.map(Box::new);
            if let Err(ractor::MessagingErr::SendErr(PoolMsg::Started(_, Ok(host)))) =
                pool.cast(PoolMsg::Started(id, result))
            {
                host.close(CloseMode::Kill).await;
            }
        });
    }
    while let Some((id, host)) = state.book.next_spare(state.waiting.len()) {
        let maker = host.maker();
        let pool = myself.clone();
        tokio::spawn(async move {
            let result = maker.make().await;
            let _ = pool.cast(PoolMsg::Made(id, result));
        });
    }
}

fn host_spec(config: &Config) -> HostSpec {
    HostSpec {
        chromium: config
            .chromium_path
            .clone()
            .or_else(|| config.resolve_chromium().ok())
            .unwrap_or_default(),
        profile_dir: crate::chromium::orphans::pool_profile_dir(&config.profile_root),
        extra_args: config.chromium_args.clone(),
        launch_timeout: Duration::from_millis(config.timeouts.launch_ms),
        viewport: crate::request::Viewport::default(),
        proxy_bind: config.browser.proxy_bind,
        connect: None,
    }
}

/// For remote browsers: the endpoint the new host `id` connects to, the one no other host of
/// the book serves.
fn next_endpoint(state: &mut PoolState, id: HostId) -> Option<String> {
    let endpoints = &state.args.config.browser.connect;
    if endpoints.is_empty() {
        return None;
    }
    let ids: Vec<HostId> = state.book.ids().collect();
    state.endpoints.retain(|host, _| ids.contains(host));
    let free = endpoints
        .iter()
        .find(|e| !state.endpoints.values().any(|used| used == *e))
        .unwrap_or(&endpoints[0])
        .clone();
    state.endpoints.insert(id, free.clone());
    Some(free)
}

/// Replaces the host when it does not answer a version query within `bound`.
fn probe(myself: &ActorRef<PoolMsg>, state: &PoolState, id: HostId, bound: Duration) {
    let Some((_, host)) = state.book.hosts().find(|(h, _)| *h == id) else {
        return;
    };
    let answers = host.probe(bound);
    let pool = myself.clone();
    tokio::spawn(async move {
        if !answers.await {
            tracing::warn!(
                host = id,
                "a pooled browser stopped answering; replacing it"
            );
            let _ = pool.cast(PoolMsg::Died(id));
        }
    });
}

fn measure(myself: &ActorRef<PoolMsg>, state: &PoolState) {
    let groups: Vec<(HostId, i32)> = state
        .book
        .hosts()
        .filter_map(|(id, h)| Some((id, h.pgid()?)))
        .collect();
    if groups.is_empty() {
        return;
    }
    let pool = myself.clone();
    tokio::task::spawn_blocking(move || {
        let sizes = groups
            .into_iter()
            .map(|(id, pgid)| (id, group_pss_bytes(pgid)))
            .collect();
        let _ = pool.cast(PoolMsg::Measured(sizes));
    });
}

fn publish(state: &PoolState) {
    let mut stats = state.book.stats();
    stats.isolation = state.args.config.browser.isolation.as_str();
    state.args.published.send_replace(Some(stats));
}

/// The warm browser pool (`[browser]`), as `stats()` and the server's readiness report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// `[browser] isolation`: what a run that does not choose gets.
    pub isolation: &'static str,
    /// Warm Chromium processes serving contexts.
    pub processes: usize,
    /// Processes being started (at warm-up, or replacing one that was recycled or died).
    pub starting: usize,
    /// Contexts waiting, each with a blank page, for the next runs.
    pub spare_contexts: usize,
    /// Contexts held by runs now.
    pub leased: usize,
    /// Contexts handed to runs since start.
    pub contexts_served: u64,
    /// Processes replaced after `recycle_after_contexts` or above `max_process_mb`.
    pub recycled: u64,
    /// Processes that died under the pool (their runs failed `BROWSER_CRASHED`) and were replaced.
    pub crashed: u64,
    /// At least one warm process is up: a context run starts without launching Chromium.
    pub ready: bool,
    /// The last failure to start a process, when the pool has none up.
    pub last_error: Option<String>,
}
