//! Reads any node answers from the database: a run's status, its events after a seq, a page of
//! runs.

use sqlx::Row;

use super::{Inner, io};
use crate::event::RunEvent;
use crate::index::{DEFAULT_PAGE, ListQuery, MAX_PAGE};
use crate::run::{RunId, RunStatus};

/// A run's stored status.
pub(super) async fn status(inner: &Inner, run_id: RunId) -> std::io::Result<Option<RunStatus>> {
    let body: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(run_id.as_uuid())
            .fetch_optional(&inner.pool)
            .await
            .map_err(io)?;
    Ok(body.and_then(|b| serde_json::from_value(b).ok()))
}

/// A run's events after `after_seq`, in seq order.
pub(super) async fn events_after(
    inner: &Inner,
    run_id: RunId,
    after_seq: u64,
) -> std::io::Result<Vec<RunEvent>> {
    let bodies: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT body FROM run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(run_id.as_uuid())
    .bind(after_seq as i64)
    .fetch_all(&inner.pool)
    .await
    .map_err(io)?;
    bodies
        .into_iter()
        .map(|b| serde_json::from_value(b).map_err(std::io::Error::from))
        .collect()
}

/// One page of runs, newest first, and the cursor of the next page.
pub(super) async fn list_page(
    inner: &Inner,
    query: ListQuery,
) -> std::io::Result<(Vec<RunStatus>, Option<RunId>)> {
    let limit = match query.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let labels = serde_json::to_value(&query.labels)?;
    let rows = sqlx::query(
        "SELECT id, status FROM runs \
         WHERE ($1::text IS NULL OR state = $1) AND labels @> $2 \
           AND ($3::uuid IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(query.state.map(|s| s.as_str()))
    .bind(labels)
    .bind(query.cursor.map(|c| c.as_uuid()))
    .bind(limit as i64 + 1)
    .fetch_all(&inner.pool)
    .await
    .map_err(io)?;
    let more = rows.len() > limit;
    let mut runs = Vec::with_capacity(limit);
    for row in rows.into_iter().take(limit) {
        runs.push(serde_json::from_value::<RunStatus>(row.get("status"))?);
    }
    let next = if more {
        runs.last().map(|s| s.run_id)
    } else {
        None
    };
    Ok((runs, next))
}
