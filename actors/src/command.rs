//! The commands a host sends to the orchestrator over its mpsc handle, their replies, and the
//! event subscription a host turns into a stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::{broadcast, oneshot};

use crate::cluster::SharedRuns;
use crate::event::RunEvent;
use crate::pool::PoolStats;
use crate::record::RunRecord;
use crate::request::{InvalidRequest, RunRequest};
use crate::run::{RunId, RunStatus};

/// A request to the orchestrator; each carries a oneshot for its reply.
#[derive(Debug)]
#[non_exhaustive]
pub enum Command {
    /// Validate and admit a run.
    Submit {
        /// The run.
        request: Box<RunRequest>,
        /// The new run's id, or why it was refused.
        reply: oneshot::Sender<Result<RunId, SubmitError>>,
    },
    /// A run's current status (from memory, else from the store).
    Status {
        /// The run.
        run_id: RunId,
        /// `None` for an unknown run.
        reply: oneshot::Sender<Option<RunStatus>>,
    },
    /// Stop a queued or running run; it ends `cancelled`.
    Cancel {
        /// The run.
        run_id: RunId,
        /// What happened.
        reply: oneshot::Sender<Result<CancelAck, CancelError>>,
    },
    /// Every known run, oldest first (a file read per run not in memory).
    List {
        /// The statuses.
        reply: oneshot::Sender<Vec<RunStatus>>,
    },
    /// A run's events after `after_seq`: replay, then live, ending after the terminal event.
    Subscribe {
        /// The run.
        run_id: RunId,
        /// Replay starts after this seq (0: from the first event).
        after_seq: u64,
        /// The subscription, or `None` for an unknown run.
        reply: oneshot::Sender<Option<EventSubscription>>,
    },
    /// Every run's events from now on.
    SubscribeAll {
        /// A receiver of the firehose.
        reply: oneshot::Sender<broadcast::Receiver<RunEvent>>,
    },
    /// Counts of what the orchestrator holds.
    Stats {
        /// The counts.
        reply: oneshot::Sender<EngineStats>,
    },
    /// Stop admitting; let running runs finish within `grace`, then cancel them.
    Shutdown {
        /// How long running runs may continue.
        grace: Duration,
        /// Sent once every run is finalized.
        reply: oneshot::Sender<ShutdownReport>,
    },
}

/// Why a run was not admitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The request is invalid; every problem names its field.
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    /// `max_concurrent_runs` are running and `queue_capacity` are waiting. Retry later.
    #[error(
        "queue full: {running} running and {queued} queued (queue_capacity {capacity}); retry later"
    )]
    QueueFull {
        /// Runs executing.
        running: usize,
        /// Runs waiting.
        queued: usize,
        /// The configured queue capacity.
        capacity: usize,
    },
    /// The orchestrator is shutting down.
    #[error("the orchestrator is shutting down and admits no new runs")]
    ShuttingDown,
    /// The run's directory could not be created.
    #[error("cannot store the run: {0}")]
    Storage(String),
    /// The orchestrator is gone.
    #[error("the orchestrator is not running")]
    Unavailable,
}

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelAck {
    /// The run was stopping; its terminal event follows.
    Cancelling,
    /// The run had already ended; nothing changed.
    AlreadyFinished,
}

/// Why `cancel` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// No such run.
    #[error("unknown run {0}")]
    NotFound(RunId),
    /// The orchestrator is gone.
    #[error("the orchestrator is not running")]
    Unavailable,
}

/// What the orchestrator holds right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Runs in the in-memory registry (queued, running and recently finished).
    pub runs_in_memory: usize,
    /// Finished runs still in memory (bounded by `[registry]`; older ones come from the store).
    pub finished_in_memory: usize,
    /// Runs holding a concurrency slot.
    pub active: usize,
    /// Runs waiting for a slot.
    pub queued: usize,
    /// `max_concurrent_runs`: how many runs may hold a slot.
    pub max_concurrent_runs: usize,
    /// `queue_capacity`: how many runs may wait.
    pub queue_capacity: usize,
    /// True once shutdown began: nothing more is admitted.
    pub shutting_down: bool,
    /// How runs' traffic is held to their guardrails: `proxy+webrtc-proxied-only` for Chromium
    /// (every connection through the run's filtering proxy; WebRTC without UDP of its own, so
    /// only TURN over TCP through that proxy).
    pub egress: &'static str,
    /// The warm browser pool, when this engine has one (a Chromium launcher).
    pub pool: Option<PoolStats>,
}

/// How a shutdown went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Runs that finished on their own within the grace period.
    pub finished_in_grace: usize,
    /// Runs cancelled (queued ones, and running ones past the grace period).
    pub cancelled: usize,
}

/// A run's events after a seq: from the live log (no gap, no duplicate at the seam) or from the
/// store for runs no longer in memory.
#[derive(Debug)]
pub struct EventSubscription {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Live {
        record: Arc<RunRecord>,
        after_seq: u64,
        /// Where the run is read from if this node is fenced out of it.
        shared: Option<Arc<dyn SharedRuns>>,
    },
    Stored(Vec<RunEvent>),
    /// A run another node owns: its events are read from the shared store as they commit.
    Remote(Remote, u64),
}

/// A tail of a run another node owns, woken by the store's hint or every `tail_interval`.
struct Remote {
    shared: Arc<dyn SharedRuns>,
    run_id: RunId,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl EventSubscription {
    /// This node's run. With a `shared` store, only committed events are shown, and a tail
    /// of a run this node is fenced out of goes on from the store: what the run's new owner
    /// (or the node that settled it) wrote.
    pub(crate) fn live(
        record: Arc<RunRecord>,
        after_seq: u64,
        shared: Option<Arc<dyn SharedRuns>>,
    ) -> Self {
        Self {
            source: Source::Live {
                record,
                after_seq,
                shared,
            },
        }
    }

    pub(crate) fn stored(events: Vec<RunEvent>, after_seq: u64) -> Self {
        Self {
            source: Source::Stored(events.into_iter().filter(|e| e.seq > after_seq).collect()),
        }
    }

    pub(crate) fn remote(shared: Arc<dyn SharedRuns>, run_id: RunId, after_seq: u64) -> Self {
        Self {
            source: Source::Remote(Remote { shared, run_id }, after_seq),
        }
    }

    /// The events as a stream that ends after the terminal event.
    pub fn into_stream(self) -> impl Stream<Item = RunEvent> + Send + Unpin + 'static {
        let state = match self.source {
            Source::Live {
                record,
                after_seq,
                shared,
            } => {
                let sub = record.log.subscribe(after_seq);
                let run_id = record.id;
                Follow {
                    backlog: sub.backlog.into(),
                    live: Some(sub.live),
                    record: Some(record),
                    last_seq: after_seq,
                    remote: None,
                    fenced_out: shared.map(|shared| Remote { shared, run_id }),
                }
            }
            Source::Stored(events) => Follow {
                backlog: events.into(),
                live: None,
                record: None,
                last_seq: 0,
                remote: None,
                fenced_out: None,
            },
            Source::Remote(remote, after_seq) => Follow {
                backlog: VecDeque::new(),
                live: None,
                record: None,
                last_seq: after_seq,
                remote: Some(remote),
                fenced_out: None,
            },
        };
        Box::pin(futures::stream::unfold(state, Follow::next))
    }
}

/// The follower behind a subscription stream.
struct Follow {
    backlog: VecDeque<RunEvent>,
    live: Option<broadcast::Receiver<RunEvent>>,
    record: Option<Arc<RunRecord>>,
    last_seq: u64,
    remote: Option<Remote>,
    /// The shared store's tail, taken over when this node is fenced out of a live run.
    fenced_out: Option<Remote>,
}

impl Follow {
    async fn next(mut self) -> Option<(RunEvent, Self)> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if event.seq <= self.last_seq && (self.record.is_some() || self.remote.is_some()) {
                    continue;
                }
                if let Some(record) = &self.record
                    && !record.log.committed(event.seq).await
                {
                    // Never to be committed: the run goes on, as others read it, in the store.
                    self.backlog.clear();
                    self.live = None;
                    self.record = None;
                    self.remote = Some(self.fenced_out.take()?);
                    continue;
                }
                self.last_seq = event.seq;
                if event.is_terminal() {
                    self.live = None;
                    self.record = None;
                    self.remote = None;
                }
                return Some((event, self));
            }
            if let Some(remote) = &self.remote {
                self.backlog = remote.next_events(self.last_seq).await.into();
                continue;
            }
            let live = self.live.as_mut()?;
            match live.recv().await {
                Ok(event) if event.seq <= self.last_seq => continue,
                Ok(event) => self.backlog.push_back(event),
                // Fell behind: take the missed events from the log's published copy.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let record = self.record.as_ref()?;
                    let sub = record.log.subscribe(self.last_seq);
                    self.backlog = sub.backlog.into();
                    self.live = Some(sub.live);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Remote {
    /// Waits for the run's next committed events after `last_seq` (never returns empty).
    async fn next_events(&self, last_seq: u64) -> Vec<RunEvent> {
        let hint = self.shared.events_hint();
        loop {
            let woken = hint.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.shared.events_after(self.run_id, last_seq).await {
                Ok(events) if !events.is_empty() => return events,
                Ok(_) => {}
                Err(error) => tracing::warn!(run_id = %self.run_id, %error, "tail read failed"),
            }
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(self.shared.tail_interval()) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use super::*;
    use crate::event::EventKind;
    use crate::record::tests::queued_record;
    use crate::store::DirStore;

    #[tokio::test]
    async fn a_follower_that_lags_past_the_live_channel_resyncs_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let record = queued_record(Arc::new(DirStore::new(dir.path())));
        let stream = EventSubscription::live(record.clone(), 0, None).into_stream();
        // Far more than the live channel holds, published before the follower reads anything.
        for i in 0..1_000 {
            record.emit(EventKind::Log {
                level: "info".into(),
                message: format!("event {i}"),
            });
        }
        let last = Box::new(record.snapshot());
        let (terminal, _) = record
            .log
            .append_terminal(|_| EventKind::Finished { status: last });
        record.log.publish_terminal(terminal);
        // The stream ends after the terminal event; every seq arrives exactly once.
        let seqs: Vec<u64> = stream.map(|e| e.seq).collect().await;
        assert_eq!(seqs, (1..=1_001).collect::<Vec<_>>());
    }
}
