//! Liveness on the database's clock. Each node renews its lease every `heartbeat_ms`; one that
//! cannot renew for `self_fence_ms` stops claiming and stops its runs (before `lease_ms`, when
//! a survivor may settle them). Every node's reaper settles the runs of nodes whose lease
//! expired: `interrupted` (`NODE_LOST`) with a terminal event after the last durable one, or
//! back to the queue when `requeue_unstarted` is set and the run never acted. A listener turns
//! `NOTIFY` into wake-ups.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sqlx::Row;
use sqlx::postgres::PgListener;

use super::queue::{end_locked, insert_event, notify, set_status};
use super::{Inner, io};
use crate::event::{EventKind, RunEvent};
use crate::recovery::interrupted_status;
use crate::run::{ErrorCode, RunError, RunId, RunState, RunStatus};

/// Runs the reaper settles per transaction.
const REAP_BATCH: i64 = 50;

/// Registers this node with a fresh lease, then starts the heartbeat, the reaper and the
/// listener on the store's runtime.
pub(super) async fn start(inner: Arc<Inner>, slots: usize) -> std::io::Result<()> {
    renew(&inner, slots).await.map_err(io)?;
    inner.leased.store(true, Ordering::Release);
    let closing = inner.closing.clone();
    for work in [
        Box::pin(heartbeat(inner.clone(), slots)) as futures::future::BoxFuture<'static, ()>,
        Box::pin(reaper(inner.clone())),
        Box::pin(listen(inner)),
    ] {
        let closing = closing.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = closing.cancelled() => {}
                () = work => {}
            }
        });
    }
    Ok(())
}

async fn renew(inner: &Inner, slots: usize) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO nodes (node_id, lease_until, slots) \
         VALUES ($1, now() + $2 * interval '1 millisecond', $3) \
         ON CONFLICT (node_id) DO UPDATE SET lease_until = EXCLUDED.lease_until",
    )
    .bind(&inner.node_id)
    .bind(inner.config.lease_ms as f64)
    .bind(slots as i32)
    .execute(&inner.pool)
    .await?;
    Ok(())
}

/// Renews the lease; fences this node's runs once renewals have failed for `self_fence_ms`
/// (measured on this node's monotonic clock, so a stalled process fences itself on waking). A
/// slow renewal is not a failure until that window has passed.
async fn heartbeat(inner: Arc<Inner>, slots: usize) {
    let every = inner.ms(inner.config.heartbeat_ms);
    let self_fence = inner.ms(inner.config.self_fence_ms);
    let mut last_renewal = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let deadline = last_renewal + self_fence;
        let renewal = tokio::time::timeout_at(deadline.into(), renew(&inner, slots)).await;
        match renewal {
            Ok(Ok(())) if Instant::now() < deadline => {
                last_renewal = Instant::now();
                if !inner.leased.swap(true, Ordering::AcqRel) {
                    tracing::warn!(node_id = %inner.node_id, "lease renewed again: claiming resumes");
                }
                continue;
            }
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "lease renewal failed"),
            Err(_) => tracing::warn!("lease renewal timed out"),
        }
        if Instant::now() >= deadline {
            lose_lease(&inner);
        }
    }
}

/// Stops claiming and fences every run this node owns.
fn lose_lease(inner: &Inner) {
    if inner.leased.swap(false, Ordering::AcqRel) {
        tracing::error!(node_id = %inner.node_id, "lease not renewed in time: stopping this node's runs");
    }
    let owned: Vec<RunId> = inner.owned.iter().map(|e| *e.key()).collect();
    for run_id in owned {
        inner.fence(run_id, "this node lost its lease");
    }
}

/// Settles the runs of expired nodes, every `reaper_ms`.
async fn reaper(inner: Arc<Inner>) {
    let every = inner.ms(inner.config.reaper_ms);
    loop {
        tokio::time::sleep(every).await;
        match reap(&inner).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "settled runs of nodes whose lease expired"),
            Err(error) => tracing::warn!(%error, "reaper pass failed"),
        }
    }
}

/// One reaper pass; returns how many runs it settled.
pub(super) async fn reap(inner: &Inner) -> sqlx::Result<usize> {
    let mut tx = inner.pool.begin().await?;
    let rows = sqlx::query(
        "SELECT r.id, r.epoch, r.acted, r.status, r.owner FROM runs r \
         WHERE r.state IN ('starting', 'running') AND NOT EXISTS ( \
           SELECT 1 FROM nodes n WHERE n.node_id = r.owner AND n.lease_until > now()) \
         ORDER BY r.id LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
    )
    .bind(REAP_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let settled = rows.len();
    for row in rows {
        settle(inner, &mut tx, &row).await?;
    }
    if settled > 0 {
        notify(&mut tx, "ph_work", "").await?;
        metrics::counter!("pilothouse_runs_reaped_total").increment(settled as u64);
    }
    tx.commit().await?;
    Ok(settled)
}

/// Settles one run of a lost node (its row is locked).
async fn settle(
    inner: &Inner,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    row: &sqlx::postgres::PgRow,
) -> sqlx::Result<()> {
    let run_id = RunId::from_uuid(row.get("id"));
    let epoch: i64 = row.get::<i64, _>("epoch") + 1;
    let owner: Option<String> = row.get("owner");
    let owner = owner.unwrap_or_default();
    let status: Option<RunStatus> = serde_json::from_value(row.get("status")).ok();
    let bodies: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT body FROM run_events WHERE run_id = $1 ORDER BY seq")
            .bind(run_id.as_uuid())
            .fetch_all(&mut **tx)
            .await?;
    let events: Vec<RunEvent> = bodies
        .into_iter()
        .filter_map(|b| serde_json::from_value(b).ok())
        .collect();
    if let Some(EventKind::Finished { status }) = events.last().map(|e| &e.kind) {
        // The owner committed the terminal event but not the status: complete its commit.
        return set_status(tx, status, status.state, epoch).await;
    }
    if inner.config.requeue_unstarted && !row.get::<bool, _>("acted") {
        return requeue(tx, run_id, status, &events, epoch, &owner).await;
    }
    let status = interrupted_status(run_id, status, &events, |was| {
        RunError::new(
            ErrorCode::NodeLost,
            format!("node {owner} stopped renewing its lease while this run was {was}"),
        )
    });
    tracing::warn!(%run_id, %owner, "run of a lost node is now interrupted");
    end_locked(tx, run_id, status, epoch).await
}

/// Puts a run that never acted back in the queue, in its old place, with a log event saying why.
async fn requeue(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    run_id: RunId,
    status: Option<RunStatus>,
    events: &[RunEvent],
    epoch: i64,
    owner: &str,
) -> sqlx::Result<()> {
    let seq = events.last().map_or(0, |e| e.seq) + 1;
    let note = RunEvent {
        run_id,
        seq,
        at: chrono::Utc::now(),
        kind: EventKind::Log {
            level: "warn".into(),
            message: format!("node {owner} was lost before the run acted; queued again"),
        },
    };
    insert_event(tx, &note, epoch).await?;
    let mut status =
        status.unwrap_or_else(|| RunStatus::new_queued(run_id, "unknown", Default::default()));
    status.state = RunState::Queued;
    status.last_seq = seq;
    set_status(tx, &status, RunState::Queued, epoch).await?;
    sqlx::query("UPDATE runs SET owner = NULL WHERE id = $1")
        .bind(run_id.as_uuid())
        .execute(&mut **tx)
        .await?;
    tracing::warn!(%run_id, %owner, "run of a lost node queued again (it never acted)");
    Ok(())
}

/// Turns `ph_work` and `ph_ev` notifications into wake-ups; reconnects after a failure.
async fn listen(inner: Arc<Inner>) {
    loop {
        let mut listener = match PgListener::connect_with(&inner.pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for notifications; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen_all(["ph_work", "ph_ev"]).await {
            tracing::warn!(%error, "cannot listen for notifications; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(note) if note.channel() == "ph_work" => inner.work.notify_one(),
                Ok(_) => inner.events.notify_waiters(),
                Err(error) => {
                    tracing::warn!(%error, "notification listener lost its connection");
                    // Whatever was missed is found by polling; wake everyone once.
                    inner.work.notify_one();
                    inner.events.notify_waiters();
                    break;
                }
            }
        }
    }
}

/// Removes this node's lease (a clean shutdown: nothing of it is left to settle).
pub(super) async fn release(inner: &Inner) {
    let _ = sqlx::query("DELETE FROM nodes WHERE node_id = $1")
        .bind(&inner.node_id)
        .execute(&inner.pool)
        .await;
}
