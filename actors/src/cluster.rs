//! Several nodes on one shared store: the seam between the engine and a store that many
//! orchestrator processes use at once (`[store] backend = "postgres"`, `pg.rs`).
//!
//! With a shared store, a submitted run is not this node's to start: it is committed `queued`
//! to the store and any node with a free slot claims it. A claim makes the claiming node the
//! run's owner under a new `epoch`; every later write for the run is fenced by that epoch, so a
//! node that lost its lease (stalled, partitioned, presumed dead) can no longer write and learns
//! it through [`SharedRuns::fenced`]. Reads (status, list, events) of runs owned elsewhere come
//! from the store; cancels of runs owned elsewhere are requests the owner picks up.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{Notify, mpsc};

use crate::event::RunEvent;
use crate::index::ListQuery;
use crate::request::RunRequest;
use crate::run::{RunId, RunStatus};

/// A store shared by several nodes: the admission queue, ownership and fencing, and reads of
/// runs other nodes own. Blocking methods are called off the async runtime's threads.
pub trait SharedRuns: Send + Sync + std::fmt::Debug + 'static {
    /// Commits a new run `queued` (its row and its first event) before the host hears of it.
    /// Blocking. `QueueFull` when `capacity` runs are queued already.
    fn enqueue(&self, run: NewRun) -> Result<usize, EnqueueError>;

    /// Claims up to `max` queued runs for this node, oldest first, each under a new epoch.
    fn claim(&self, max: usize) -> BoxFuture<'static, std::io::Result<Vec<ClaimedRun>>>;

    /// Ends a claimed run this node cannot start (its request no longer admits under this
    /// node's config): `status` is committed with its terminal event.
    fn fail_claimed(&self, run: &ClaimedRun, status: RunStatus) -> BoxFuture<'static, ()>;

    /// Cancels a run owned elsewhere (or queued): a queued run ends `cancelled` at once; a
    /// running one gets a cancel request its owner picks up.
    fn cancel(&self, run_id: RunId) -> BoxFuture<'static, std::io::Result<SharedCancel>>;

    /// Runs this node owns whose cancel another node requested.
    fn cancel_requests(&self) -> BoxFuture<'static, std::io::Result<Vec<RunId>>>;

    /// A run's stored events after `after_seq`, in order.
    fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
    ) -> BoxFuture<'static, std::io::Result<Vec<RunEvent>>>;

    /// One page of runs, newest first, and the cursor of the next page.
    fn list_page(
        &self,
        query: ListQuery,
    ) -> BoxFuture<'static, std::io::Result<(Vec<RunStatus>, Option<RunId>)>>;

    /// Notified when a run was queued or a cancel was requested somewhere (a hint: poll too).
    fn work_hint(&self) -> Arc<Notify>;

    /// Notified when some run's events were committed somewhere (a hint: poll too).
    fn events_hint(&self) -> Arc<Notify>;

    /// Whether this node may claim: false while it cannot renew its lease.
    fn may_claim(&self) -> bool;

    /// Run ids this node must stop at once: fenced out by a newer owner, or this node lost its
    /// lease. Taken once, by the supervisor.
    fn fenced(&self) -> Option<mpsc::UnboundedReceiver<RunId>>;

    /// How often to look for queued runs and cancel requests without a hint.
    fn poll_interval(&self) -> std::time::Duration;

    /// How often a tail of a run owned elsewhere reads new events without a hint.
    fn tail_interval(&self) -> std::time::Duration;

    /// Stops the store's background work (lease, reaper, listener) and releases the lease.
    fn close(&self) -> BoxFuture<'static, ()>;
}

/// A run to enqueue: its admitted request (its playbook inlined) and its queued status.
#[derive(Debug)]
pub struct NewRun {
    /// The run.
    pub run_id: RunId,
    /// The admitted request, serialized without credentials.
    pub request: RunRequest,
    /// Its `queued` status.
    pub status: RunStatus,
    /// At most this many runs may wait in the shared queue.
    pub capacity: usize,
}

/// Why a run was not enqueued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// `capacity` runs are queued already.
    #[error("queue full: {queued} queued")]
    QueueFull {
        /// Runs waiting.
        queued: usize,
    },
    /// The store did not take it.
    #[error("{0}")]
    Storage(String),
}

/// A run this node claimed: its owner is now this node, under `epoch`.
#[derive(Debug)]
pub struct ClaimedRun {
    /// The run.
    pub run_id: RunId,
    /// The fencing token of this ownership.
    pub epoch: i64,
    /// The request as admitted (credentials re-attached when this node kept them).
    pub request: RunRequest,
    /// The last status stored.
    pub status: RunStatus,
    /// Every event stored so far (the next one continues their seq).
    pub events: Vec<RunEvent>,
}

/// What a cancel of a run not in this node's registry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedCancel {
    /// No such run.
    NotFound,
    /// The run had ended already.
    AlreadyFinished,
    /// It was queued: it is `cancelled` now.
    CancelledQueued,
    /// Its owner was asked to cancel it.
    Requested,
}
