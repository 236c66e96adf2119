//! [`SharedRuns`] on PostgreSQL: the engine's view of the cluster, each call run on the store's
//! runtime.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::{Notify, mpsc};

use super::{PgStore, lease, queue, read};
use crate::cluster::{ClaimedRun, EnqueueError, NewRun, SharedCancel, SharedRuns};
use crate::event::RunEvent;
use crate::index::ListQuery;
use crate::run::{RunId, RunStatus};

impl SharedRuns for PgStore {
    fn enqueue(&self, run: NewRun) -> Result<usize, EnqueueError> {
        let inner = self.inner.clone();
        self.block(async move { Ok(queue::enqueue(&inner, run).await) })
            .map_err(|e| EnqueueError::Storage(e.to_string()))?
    }

    fn claim(&self, max: usize) -> BoxFuture<'static, std::io::Result<Vec<ClaimedRun>>> {
        let inner = self.inner.clone();
        self.spawn(async move { queue::claim(&inner, max).await })
    }

    fn fail_claimed(&self, run: &ClaimedRun, status: RunStatus) -> BoxFuture<'static, ()> {
        let inner = self.inner.clone();
        let (run_id, epoch) = (run.run_id, run.epoch);
        let done = self.spawn(async move {
            queue::fail_claimed(&inner, run_id, epoch, status).await;
            Ok(())
        });
        Box::pin(async move {
            let _ = done.await;
        })
    }

    fn cancel(&self, run_id: RunId) -> BoxFuture<'static, std::io::Result<SharedCancel>> {
        let inner = self.inner.clone();
        self.spawn(async move { queue::cancel(&inner, run_id).await })
    }

    fn cancel_requests(&self) -> BoxFuture<'static, std::io::Result<Vec<RunId>>> {
        let inner = self.inner.clone();
        self.spawn(async move { queue::cancel_requests(&inner).await })
    }

    fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
    ) -> BoxFuture<'static, std::io::Result<Vec<RunEvent>>> {
        let inner = self.inner.clone();
        self.spawn(async move { read::events_after(&inner, run_id, after_seq).await })
    }

    fn list_page(
        &self,
        query: ListQuery,
    ) -> BoxFuture<'static, std::io::Result<(Vec<RunStatus>, Option<RunId>)>> {
        let inner = self.inner.clone();
        self.spawn(async move { read::list_page(&inner, query).await })
    }

    fn work_hint(&self) -> Arc<Notify> {
        self.inner.work.clone()
    }

    fn events_hint(&self) -> Arc<Notify> {
        self.inner.events.clone()
    }

    fn may_claim(&self) -> bool {
        self.inner.leased() && !self.inner.closing.is_cancelled()
    }

    fn fenced(&self) -> Option<mpsc::UnboundedReceiver<RunId>> {
        self.inner
            .fence_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn poll_interval(&self) -> std::time::Duration {
        self.inner.ms(self.inner.config.poll_ms)
    }

    fn tail_interval(&self) -> std::time::Duration {
        self.inner.ms(self.inner.config.tail_ms)
    }

    fn close(&self) -> BoxFuture<'static, ()> {
        self.inner.closing.cancel();
        let inner = self.inner.clone();
        let done = self.spawn(async move {
            lease::release(&inner).await;
            Ok(())
        });
        Box::pin(async move {
            let _ = done.await;
        })
    }
}
