//! The shared admission queue: enqueue at submit (one transaction, before the host hears the
//! id), claims with `FOR UPDATE SKIP LOCKED` (FIFO, up to the free slots, each under a new
//! epoch), cancels of queued runs, and cancel requests for runs owned elsewhere.

use chrono::Utc;
use sqlx::{Postgres, Row, Transaction};

use super::{Inner, io};
use crate::cluster::{ClaimedRun, EnqueueError, NewRun, SharedCancel};
use crate::event::{EventKind, RunEvent};
use crate::request::RunRequest;
use crate::run::{RunId, RunOutcome, RunState, RunStatus};

/// Serializes enqueues so the queue count is exact (`pg_advisory_xact_lock`).
const ENQUEUE_LOCK: i64 = 0x7069_6c6f_7468;

/// Commits the run `queued` with its first event; refuses it when the queue is full.
pub(super) async fn enqueue(inner: &Inner, run: NewRun) -> Result<usize, EnqueueError> {
    let storage = |e: sqlx::Error| EnqueueError::Storage(e.to_string());
    let NewRun {
        run_id,
        mut request,
        status,
        capacity,
    } = run;
    let pinned = (!request.credentials.is_empty()).then(|| inner.node_id.clone());
    let credentials = std::mem::take(&mut request.credentials);
    let mut tx = inner.pool.begin().await.map_err(storage)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ENQUEUE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(storage)?;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE state = 'queued'")
        .fetch_one(&mut *tx)
        .await
        .map_err(storage)?;
    let queued = queued as usize;
    if queued >= capacity {
        return Err(EnqueueError::QueueFull { queued });
    }
    let json = |v: serde_json::Result<serde_json::Value>| {
        v.map_err(|e| EnqueueError::Storage(e.to_string()))
    };
    sqlx::query(
        "INSERT INTO runs (id, state, request, labels, pinned_node, status) \
         VALUES ($1, 'queued', $2, $3, $4, $5)",
    )
    .bind(run_id.as_uuid())
    .bind(json(serde_json::to_value(&request))?)
    .bind(json(serde_json::to_value(&status.labels))?)
    .bind(pinned)
    .bind(json(serde_json::to_value(&status))?)
    .execute(&mut *tx)
    .await
    .map_err(storage)?;
    let first = RunEvent {
        run_id,
        seq: 1,
        at: Utc::now(),
        kind: EventKind::Queued { position: queued },
    };
    insert_event(&mut tx, &first, 0).await.map_err(storage)?;
    notify(&mut tx, "ph_work", "").await.map_err(storage)?;
    tx.commit().await.map_err(storage)?;
    if !credentials.is_empty() {
        inner.credentials.insert(run_id, credentials);
    }
    Ok(queued)
}

/// Claims up to `max` queued runs for this node, oldest first. Nothing while unleased.
pub(super) async fn claim(inner: &Inner, max: usize) -> std::io::Result<Vec<ClaimedRun>> {
    if max == 0 || !inner.leased() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "WITH picked AS ( \
           SELECT id FROM runs \
           WHERE state = 'queued' AND (pinned_node IS NULL OR pinned_node = $1) \
           ORDER BY queued_at, id FOR UPDATE SKIP LOCKED LIMIT $2) \
         UPDATE runs r SET state = 'starting', owner = $1, epoch = r.epoch + 1, \
           status = jsonb_set(r.status, '{state}', '\"starting\"'), \
           attempt = r.attempt + 1, cancel_requested = false, updated_at = now() \
         FROM picked WHERE r.id = picked.id \
           AND EXISTS (SELECT 1 FROM nodes WHERE node_id = $1 AND lease_until > now()) \
         RETURNING r.id, r.epoch, r.request, r.status, r.queued_at",
    )
    .bind(&inner.node_id)
    .bind(max as i64)
    .fetch_all(&inner.pool)
    .await
    .map_err(io)?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let run_id = RunId::from_uuid(row.get("id"));
        let epoch: i64 = row.get("epoch");
        inner.owned.insert(run_id, epoch);
        let queued_at: chrono::DateTime<Utc> = row.get("queued_at");
        claimed.push((queued_at, decode_claim(inner, run_id, epoch, &row)?));
    }
    claimed.sort_by_key(|(at, c)| (*at, c.run_id));
    let mut runs: Vec<ClaimedRun> = claimed.into_iter().map(|(_, c)| c).collect();
    for run in &mut runs {
        run.events = super::read::events_after(inner, run.run_id, 0).await?;
    }
    Ok(runs)
}

fn decode_claim(
    inner: &Inner,
    run_id: RunId,
    epoch: i64,
    row: &sqlx::postgres::PgRow,
) -> std::io::Result<ClaimedRun> {
    let mut request: RunRequest = serde_json::from_value(row.get("request"))?;
    let status: RunStatus = serde_json::from_value(row.get("status"))?;
    if let Some((_, credentials)) = inner.credentials.remove(&run_id) {
        request.credentials = credentials;
    }
    Ok(ClaimedRun {
        run_id,
        epoch,
        request,
        status,
        events: Vec::new(),
    })
}

/// Ends a claimed run with `status` and its terminal event, under the claim's epoch.
pub(super) async fn fail_claimed(inner: &Inner, run_id: RunId, epoch: i64, status: RunStatus) {
    let ended = async {
        let mut tx = inner.pool.begin().await?;
        let locked = sqlx::query("SELECT 1 FROM runs WHERE id = $1 AND epoch = $2 FOR UPDATE")
            .bind(run_id.as_uuid())
            .bind(epoch)
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_some() {
            end_locked(&mut tx, run_id, status, epoch).await?;
            tx.commit().await?;
        }
        Ok::<(), sqlx::Error>(())
    };
    if let Err(error) = ended.await {
        tracing::error!(%run_id, %error, "a claimed run could not be ended");
    }
    inner.owned.remove(&run_id);
}

/// Cancels a run from any node.
pub(super) async fn cancel(inner: &Inner, run_id: RunId) -> std::io::Result<SharedCancel> {
    let mut tx = inner.pool.begin().await.map_err(io)?;
    let row = sqlx::query("SELECT state, epoch, status FROM runs WHERE id = $1 FOR UPDATE")
        .bind(run_id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(io)?;
    let Some(row) = row else {
        return Ok(SharedCancel::NotFound);
    };
    let state: String = row.get("state");
    let answer = match state.as_str() {
        "queued" => {
            let mut status: RunStatus = serde_json::from_value(row.get("status"))?;
            status.finish(RunOutcome::cancelled("cancelled while queued"));
            let epoch: i64 = row.get("epoch");
            end_locked(&mut tx, run_id, status, epoch + 1)
                .await
                .map_err(io)?;
            SharedCancel::CancelledQueued
        }
        "starting" | "running" => {
            sqlx::query("UPDATE runs SET cancel_requested = true WHERE id = $1")
                .bind(run_id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(io)?;
            notify(&mut tx, "ph_work", "").await.map_err(io)?;
            SharedCancel::Requested
        }
        _ => SharedCancel::AlreadyFinished,
    };
    tx.commit().await.map_err(io)?;
    Ok(answer)
}

/// Runs this node owns whose cancel was requested.
pub(super) async fn cancel_requests(inner: &Inner) -> std::io::Result<Vec<RunId>> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM runs WHERE owner = $1 AND cancel_requested \
         AND state IN ('starting', 'running')",
    )
    .bind(&inner.node_id)
    .fetch_all(&inner.pool)
    .await
    .map_err(io)?;
    Ok(ids.into_iter().map(RunId::from_uuid).collect())
}

/// With the run's row locked: appends the terminal event carrying `status` after the last
/// stored event and commits the status, under `epoch`.
pub(super) async fn end_locked(
    tx: &mut Transaction<'_, Postgres>,
    run_id: RunId,
    mut status: RunStatus,
    epoch: i64,
) -> sqlx::Result<()> {
    let last: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM run_events WHERE run_id = $1")
        .bind(run_id.as_uuid())
        .fetch_one(&mut **tx)
        .await?;
    let seq = last.unwrap_or(0) as u64 + 1;
    status.last_seq = seq;
    let state = status.state;
    let terminal = RunEvent {
        run_id,
        seq,
        at: Utc::now(),
        kind: EventKind::Finished {
            status: Box::new(status.clone()),
        },
    };
    insert_event(tx, &terminal, epoch).await?;
    set_status(tx, &status, state, epoch).await?;
    notify(tx, "ph_ev", &run_id.to_string()).await
}

/// Sets a run's status, state and epoch (the row is locked by the caller).
pub(super) async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    status: &RunStatus,
    state: RunState,
    epoch: i64,
) -> sqlx::Result<()> {
    let body = serde_json::to_value(status).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "UPDATE runs SET status = $2, state = $3, epoch = $4, updated_at = now() WHERE id = $1",
    )
    .bind(status.run_id.as_uuid())
    .bind(body)
    .bind(state.as_str())
    .bind(epoch)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts one event row.
pub(super) async fn insert_event(
    tx: &mut Transaction<'_, Postgres>,
    event: &RunEvent,
    epoch: i64,
) -> sqlx::Result<()> {
    let body = serde_json::to_value(event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let kind = body["type"].as_str().unwrap_or("unknown").to_owned();
    sqlx::query(
        "INSERT INTO run_events (run_id, seq, epoch, kind, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.run_id.as_uuid())
    .bind(event.seq as i64)
    .bind(epoch)
    .bind(kind)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `NOTIFY channel, payload`, delivered at commit.
pub(super) async fn notify(
    tx: &mut Transaction<'_, Postgres>,
    channel: &str,
    payload: &str,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
