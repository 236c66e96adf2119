//! The host's handle: [`OrchestratorHandle`], a cloneable front over the supervisor's mpsc
//! command channel plus a read side ([`Reader`]) that answers status, list, stats and event
//! subscriptions from the registry and the store index without waiting behind the supervisor.
//!
//! Only commands that change something (submit, cancel, shutdown) travel to the supervisor.
//! Every call that waits for the supervisor is bounded by `timeouts.actor_call_ms`; reads that
//! touch the store run on the blocking pool, never on an actor.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use crate::cluster::SharedRuns;
use crate::command::{
    CancelAck, CancelError, Command, EngineStats, EventSubscription, ShutdownReport, SubmitError,
};
use crate::event::{EventKind, RunEvent};
use crate::index::{ListQuery, RunIndex, RunPage};
use crate::record::Registry;
use crate::request::RunRequest;
use crate::run::{RunId, RunStatus};
use crate::store::RunStore;

/// The orchestrator has stopped, or did not answer within `timeouts.actor_call_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the orchestrator is not running or did not answer in time")]
pub struct Unavailable;

/// Why `events` returned no stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// No such run.
    #[error("unknown run {0}")]
    NotFound(RunId),
    /// The orchestrator has stopped.
    #[error("the orchestrator is not running")]
    Unavailable,
}

/// Counts the supervisor publishes for readers (it alone writes them).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) active: AtomicUsize,
    pub(crate) queued: AtomicUsize,
    pub(crate) finished_in_memory: AtomicUsize,
    pub(crate) shutting_down: AtomicBool,
}

/// What the read side needs: the registry, the store and its index, the firehose, the counts.
#[derive(Debug)]
pub(crate) struct Reader {
    pub(crate) registry: Registry,
    pub(crate) store: Arc<dyn RunStore>,
    pub(crate) index: Arc<RunIndex>,
    pub(crate) firehose: broadcast::Sender<RunEvent>,
    pub(crate) counts: Counts,
    pub(crate) max_concurrent_runs: usize,
    pub(crate) queue_capacity: usize,
    /// The launcher's egress mechanism, reported by `stats()`.
    pub(crate) egress: &'static str,
    /// The warm pool's numbers, published by the pool actor.
    pub(crate) pool: Arc<tokio::sync::watch::Sender<Option<crate::pool::PoolStats>>>,
    /// The shared store, when several nodes share one: lists, and tails of runs other nodes
    /// own, come from it.
    pub(crate) shared: Option<Arc<dyn SharedRuns>>,
}

impl Reader {
    /// The run's record when this node's view of it is the truth: in the registry and not
    /// fenced out. A run another node took over stays in the registry until its local wind-down
    /// ends, but what this node saw after losing it never became the run's history: the shared
    /// store answers for it.
    fn live(&self, run_id: &RunId) -> Option<Arc<crate::record::RunRecord>> {
        self.registry
            .get(run_id)
            .filter(|r| !r.control.is_fenced())
            .map(|r| r.clone())
    }

    /// A run's status: live from the registry, else from the store (off the runtime).
    pub(crate) async fn status(self: &Arc<Self>, run_id: RunId) -> Option<RunStatus> {
        if let Some(record) = self.live(&run_id) {
            let status = record.settled().await;
            // Fenced while the commit was under way: the shared store has the run's outcome.
            if self.live(&run_id).is_some() {
                return Some(status);
            }
        }
        let reader = self.clone();
        blocking(move || reader.store.load_status(run_id))
            .await
            .flatten()
    }

    /// Statuses of `ids`, in order, skipping runs that vanished.
    async fn statuses(self: &Arc<Self>, ids: Vec<RunId>) -> Vec<RunStatus> {
        let mut out = Vec::with_capacity(ids.len());
        let mut stored = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match self.live(id) {
                Some(record) => out.push(Some(record.settled().await)),
                None => {
                    out.push(None);
                    stored.push((i, *id));
                }
            }
        }
        if !stored.is_empty() {
            let reader = self.clone();
            let loaded = blocking(move || {
                stored
                    .into_iter()
                    .map(|(i, id)| (i, reader.store.load_status(id)))
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            for (i, status) in loaded {
                out[i] = status;
            }
        }
        out.into_iter().flatten().collect()
    }

    /// One page of runs from the index (or the shared store), newest first.
    pub(crate) async fn list_page(self: &Arc<Self>, query: &ListQuery) -> RunPage {
        if let Some(shared) = &self.shared {
            return self.shared_page(shared, query.clone()).await;
        }
        let registry = &self.registry;
        let (ids, next_cursor) = self
            .index
            .page(query, |id| registry.get(&id).map(|r| r.status().state));
        RunPage {
            runs: self.statuses(ids).await,
            next_cursor,
        }
    }

    /// A page from the shared store, with this node's live runs as fresh as it knows them.
    async fn shared_page(&self, shared: &Arc<dyn SharedRuns>, query: ListQuery) -> RunPage {
        let (mut runs, next_cursor) = shared.list_page(query).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "listing runs from the shared store failed");
            (Vec::new(), None)
        });
        for status in &mut runs {
            if let Some(record) = self.live(&status.run_id) {
                *status = record.settled().await;
            }
        }
        RunPage { runs, next_cursor }
    }

    /// Every run, oldest first (a file read per run not in memory: prefer `list_page`).
    pub(crate) async fn list(self: &Arc<Self>) -> Vec<RunStatus> {
        if self.shared.is_some() {
            return self.list_shared().await;
        }
        let ids = self.index.ids();
        self.statuses(ids).await
    }

    /// A run's events after `after_seq`, or `None` for an unknown run.
    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        run_id: RunId,
        after_seq: u64,
    ) -> Option<EventSubscription> {
        if let Some(record) = self.live(&run_id) {
            return Some(EventSubscription::live(
                record,
                after_seq,
                self.shared.clone(),
            ));
        }
        if let Some(shared) = &self.shared {
            self.status(run_id).await?;
            return Some(EventSubscription::remote(shared.clone(), run_id, after_seq));
        }
        let reader = self.clone();
        blocking(move || {
            let events = reader.store.load_events(run_id);
            if events.is_empty() && reader.store.load_status(run_id).is_none() {
                return None;
            }
            Some(EventSubscription::stored(events, after_seq))
        })
        .await
        .flatten()
    }

    /// Every run in the shared store, oldest first, page by page.
    async fn list_shared(self: &Arc<Self>) -> Vec<RunStatus> {
        let mut all = Vec::new();
        let mut query = ListQuery {
            limit: crate::index::MAX_PAGE,
            ..ListQuery::default()
        };
        loop {
            let page = self.list_page(&query).await;
            all.extend(page.runs);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        all.reverse();
        all
    }

    pub(crate) fn stats(&self) -> EngineStats {
        EngineStats {
            runs_in_memory: self.registry.len(),
            finished_in_memory: self.counts.finished_in_memory.load(Ordering::Relaxed),
            active: self.counts.active.load(Ordering::Relaxed),
            queued: self.counts.queued.load(Ordering::Relaxed),
            max_concurrent_runs: self.max_concurrent_runs,
            queue_capacity: self.queue_capacity,
            shutting_down: self.counts.shutting_down.load(Ordering::Relaxed),
            egress: self.egress,
            pool: self.pool.borrow().clone(),
        }
    }

    /// Serves a read command sent over the raw channel; returns the command when it is not one.
    pub(crate) fn serve(self: &Arc<Self>, command: Command) -> Option<Command> {
        let reader = self.clone();
        match command {
            Command::Status { run_id, reply } => {
                tokio::spawn(async move {
                    let _ = reply.send(reader.status(run_id).await);
                });
            }
            Command::List { reply } => {
                tokio::spawn(async move {
                    let _ = reply.send(reader.list().await);
                });
            }
            Command::Subscribe {
                run_id,
                after_seq,
                reply,
            } => {
                tokio::spawn(async move {
                    let _ = reply.send(reader.subscribe(run_id, after_seq).await);
                });
            }
            Command::SubscribeAll { reply } => {
                let _ = reply.send(self.firehose.subscribe());
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
            }
            other => return Some(other),
        }
        None
    }
}

/// Runs blocking store I/O on the blocking pool; `None` if the task panicked.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// The host's handle: cloneable, cheap, usable from any task.
#[derive(Clone, Debug)]
pub struct OrchestratorHandle {
    sender: mpsc::Sender<Command>,
    reader: Arc<Reader>,
    call_timeout: Duration,
}

impl OrchestratorHandle {
    pub(crate) fn new(
        sender: mpsc::Sender<Command>,
        reader: Arc<Reader>,
        call_timeout: Duration,
    ) -> Self {
        Self {
            sender,
            reader,
            call_timeout,
        }
    }

    /// The raw command sender, for hosts that send [`Command`] values themselves.
    pub fn sender(&self) -> &mpsc::Sender<Command> {
        &self.sender
    }

    /// Sends a command and waits for its reply, both within `timeouts.actor_call_ms`.
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Unavailable> {
        let (tx, rx) = oneshot::channel();
        let exchange = async {
            self.sender.send(make(tx)).await.map_err(|_| Unavailable)?;
            rx.await.map_err(|_| Unavailable)
        };
        tokio::time::timeout(self.call_timeout, exchange)
            .await
            .unwrap_or(Err(Unavailable))
    }

    /// Bounds a read by `timeouts.actor_call_ms` (a store on a stalled disk, say).
    async fn bounded<T>(&self, read: impl Future<Output = T>) -> Result<T, Unavailable> {
        tokio::time::timeout(self.call_timeout, read)
            .await
            .map_err(|_| Unavailable)
    }

    /// Validates and admits a run; returns once the run is in the store. Fails at once with
    /// `QueueFull` when the queue is full.
    pub async fn submit(&self, request: RunRequest) -> Result<RunId, SubmitError> {
        self.ask(|reply| Command::Submit {
            request: Box::new(request),
            reply,
        })
        .await
        .unwrap_or(Err(SubmitError::Unavailable))
    }

    /// A run's status; `None` for an unknown run.
    pub async fn status(&self, run_id: RunId) -> Result<Option<RunStatus>, Unavailable> {
        self.bounded(self.reader.status(run_id)).await
    }

    /// Cancels a queued or running run.
    pub async fn cancel(&self, run_id: RunId) -> Result<CancelAck, CancelError> {
        self.ask(|reply| Command::Cancel { run_id, reply })
            .await
            .unwrap_or(Err(CancelError::Unavailable))
    }

    /// Every known run, oldest first. Reads each stored status not in memory: for many runs,
    /// page with [`OrchestratorHandle::list_page`] instead.
    pub async fn list(&self) -> Result<Vec<RunStatus>, Unavailable> {
        self.bounded(self.reader.list()).await
    }

    /// One page of runs, newest first, filtered by state and labels from the store's index.
    pub async fn list_page(&self, query: ListQuery) -> Result<RunPage, Unavailable> {
        self.bounded(self.reader.list_page(&query)).await
    }

    /// A run's events with `seq > after_seq`: the log first, then live events, ending after the
    /// terminal `finished` event. No gap and no duplicate.
    pub async fn events(
        &self,
        run_id: RunId,
        after_seq: u64,
    ) -> Result<impl Stream<Item = RunEvent> + Send + Unpin + 'static, EventsError> {
        let subscription = self
            .bounded(self.reader.subscribe(run_id, after_seq))
            .await
            .map_err(|_| EventsError::Unavailable)?
            .ok_or(EventsError::NotFound(run_id))?;
        Ok(subscription.into_stream())
    }

    /// Every run's events from now on. A receiver that falls far behind skips events (use
    /// `events(run_id, after_seq)` to catch up on a run from its log).
    pub async fn subscribe_all(
        &self,
    ) -> Result<impl Stream<Item = RunEvent> + Send + Unpin + 'static, Unavailable> {
        let receiver = self.reader.firehose.subscribe();
        Ok(BroadcastStream::new(receiver).filter_map(Result::ok))
    }

    /// Waits until `run_id` is terminal and returns its final status.
    pub async fn wait(&self, run_id: RunId) -> Result<RunStatus, EventsError> {
        let mut events = self.events(run_id, 0).await?;
        while let Some(event) = futures::StreamExt::next(&mut events).await {
            if let EventKind::Finished { status } = event.kind {
                return Ok(*status);
            }
        }
        // The log ended without a terminal event (a run interrupted by a crash).
        self.status(run_id)
            .await
            .map_err(|_| EventsError::Unavailable)?
            .ok_or(EventsError::NotFound(run_id))
    }

    /// Counts of runs in memory, running and queued, the admission limits, and the egress
    /// mechanism that holds runs to their guardrails.
    pub async fn stats(&self) -> Result<EngineStats, Unavailable> {
        Ok(self.reader.stats())
    }

    /// Waits until the warm pool has a browser up (true), or `within` passes (false). An engine
    /// without a pool is ready at once.
    pub async fn pool_warm(&self, within: Duration) -> bool {
        let mut published = self.reader.pool.subscribe();
        if published.borrow().is_none() {
            // No pool, or not started yet: give it the same bound to publish.
            let first = tokio::time::timeout(within, published.changed()).await;
            if !matches!(first, Ok(Ok(()))) {
                return self.reader.pool.borrow().is_none();
            }
        }
        let warm = published.wait_for(|p| p.as_ref().is_none_or(|p| p.ready));
        matches!(tokio::time::timeout(within, warm).await, Ok(Ok(_)))
    }

    /// Asks the orchestrator to shut down: stops admitting, lets running runs finish within
    /// `grace`, cancels the rest, and answers once every run is finalized (not bounded by
    /// `actor_call_ms`: it lasts as long as the runs' finalization).
    pub async fn shutdown(&self, grace: Duration) -> Result<ShutdownReport, Unavailable> {
        let (reply, rx) = oneshot::channel();
        let send = self.sender.send(Command::Shutdown { grace, reply });
        tokio::time::timeout(self.call_timeout, send)
            .await
            .map_err(|_| Unavailable)?
            .map_err(|_| Unavailable)?;
        rx.await.map_err(|_| Unavailable)
    }
}
