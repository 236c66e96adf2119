//! A run's event log on PostgreSQL. `append` hands the event to a writer task and returns: the
//! run's actions never wait on the database. The task commits what has gathered as one batch,
//! guarded by the run's epoch — the `runs` row must still carry this node's epoch and no
//! `(run_id, seq)` may exist yet — and then notifies `ph_ev`. A refused batch fences the run.
//! `sync` waits until everything appended so far is committed. The terminal event is held back
//! and committed with the run's terminal status, in one transaction (`pg/store.rs`): no node
//! sees a run's end before its final status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Backoff, Inner};
use crate::event::{EventKind, RunEvent};
use crate::run::RunId;
use crate::store::{Durable, LogWriter};

/// Events committed in one transaction at most.
const MAX_BATCH: usize = 256;
/// Longest wait for `sync`: past it the terminal event is reported as not durable.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

enum Op {
    Event(Row),
    Flush(std::sync::mpsc::SyncSender<Result<(), String>>),
}

#[derive(Debug)]
pub(super) struct Row {
    pub(super) seq: i64,
    pub(super) kind: String,
    pub(super) body: serde_json::Value,
    acted: bool,
}

/// The writer end the run's [`crate::event_log::EventLog`] appends to.
pub(super) struct PgLog {
    ops: mpsc::UnboundedSender<Op>,
    fenced: Arc<AtomicBool>,
    durable: tokio::sync::watch::Receiver<Durable>,
    inner: Arc<Inner>,
    run_id: RunId,
}

impl std::fmt::Debug for PgLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLog").finish_non_exhaustive()
    }
}

impl PgLog {
    /// Starts the run's writer task on the store's runtime.
    pub(super) fn start(
        inner: Arc<Inner>,
        runtime: &tokio::runtime::Handle,
        run_id: RunId,
        epoch: i64,
    ) -> Self {
        let (ops, rx) = mpsc::unbounded_channel();
        let fenced = Arc::new(AtomicBool::new(false));
        let (committed, durable) = tokio::sync::watch::channel(Durable::default());
        inner.durable.insert(run_id, committed);
        runtime.spawn(write_events(
            inner.clone(),
            run_id,
            epoch,
            rx,
            fenced.clone(),
        ));
        Self {
            ops,
            fenced,
            durable,
            inner,
            run_id,
        }
    }
}

impl LogWriter for PgLog {
    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        let event: RunEvent = serde_json::from_slice(line)?;
        self.append_event(&event, line)
    }

    fn append_event(&mut self, event: &RunEvent, line: &[u8]) -> std::io::Result<()> {
        if self.fenced.load(Ordering::Acquire) {
            return Err(std::io::Error::other(
                "another node owns this run now: the event was not stored",
            ));
        }
        let body: serde_json::Value = serde_json::from_slice(line)?;
        let kind = body["type"].as_str().unwrap_or("unknown").to_owned();
        let row = Row {
            seq: event.seq as i64,
            kind,
            body,
            acted: matches!(event.kind, EventKind::Action { .. }),
        };
        if event.is_terminal() {
            self.inner.terminal.insert(self.run_id, row);
            return Ok(());
        }
        self.ops
            .send(Op::Event(row))
            .map_err(|_| std::io::Error::other("the event writer has stopped"))
    }

    fn sync(&mut self) -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.ops
            .send(Op::Flush(tx))
            .map_err(|_| std::io::Error::other("the event writer has stopped"))?;
        match rx.recv_timeout(SYNC_TIMEOUT) {
            Ok(result) => result.map_err(std::io::Error::other),
            Err(_) => Err(std::io::Error::other(
                "the events were not committed to the store in time",
            )),
        }
    }

    fn durable(&self) -> Option<tokio::sync::watch::Receiver<Durable>> {
        Some(self.durable.clone())
    }
}

/// Commits batches until the log is dropped or the run is fenced.
async fn write_events(
    inner: Arc<Inner>,
    run_id: RunId,
    epoch: i64,
    mut ops: mpsc::UnboundedReceiver<Op>,
    fenced: Arc<AtomicBool>,
) {
    let mut rows = Vec::new();
    let mut waiters = Vec::new();
    // The first refusal sticks: every later `sync` reports that events were lost.
    let mut lost: Option<String> = None;
    while let Some(op) = ops.recv().await {
        gather(op, &mut rows, &mut waiters);
        while rows.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => gather(op, &mut rows, &mut waiters),
                Err(_) => break,
            }
        }
        if lost.is_none() {
            match commit_retrying(&inner, run_id, epoch, &rows).await {
                Ok(()) => note_committed(&inner, run_id, &rows),
                Err(refused) => {
                    if let Refused::Fenced = refused {
                        fenced.store(true, Ordering::Release);
                        inner.fence(run_id, "event batch refused: a newer epoch owns the run");
                    }
                    inner.stop_committing(run_id, None);
                    lost = Some(refused.to_string());
                }
            }
        }
        rows.clear();
        let answer = lost.clone().map_or(Ok(()), Err);
        for waiter in waiters.drain(..) {
            let _ = waiter.send(answer.clone());
        }
    }
}

/// Moves the run's committed-events mark to the batch's last seq.
fn note_committed(inner: &Inner, run_id: RunId, rows: &[Row]) {
    let Some(last) = rows.iter().map(|r| r.seq as u64).max() else {
        return;
    };
    if let Some(durable) = inner.durable.get(&run_id) {
        durable.send_modify(|d| d.seq = d.seq.max(last));
    }
}

fn gather(
    op: Op,
    rows: &mut Vec<Row>,
    waiters: &mut Vec<std::sync::mpsc::SyncSender<Result<(), String>>>,
) {
    match op {
        Op::Event(row) => rows.push(row),
        Op::Flush(waiter) => waiters.push(waiter),
    }
}

#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("another node owns this run now: its events were not stored")]
    Fenced,
    #[error("the store did not take the events: {0}")]
    Failed(String),
}

/// Retries a batch the database could not take (a restart, a dropped connection) until it
/// commits, the run is fenced, or this node loses its lease.
async fn commit_retrying(
    inner: &Inner,
    run_id: RunId,
    epoch: i64,
    rows: &[Row],
) -> Result<(), Refused> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut backoff = Backoff::new();
    loop {
        match commit(inner, run_id, epoch, rows).await {
            Ok(true) => return Ok(()),
            Ok(false) => return Err(Refused::Fenced),
            Err(error) if is_conflict(&error) => return Err(Refused::Fenced),
            Err(error) => {
                if !inner.leased() || !inner.owned.contains_key(&run_id) {
                    return Err(Refused::Failed(error.to_string()));
                }
                tracing::warn!(%run_id, %error, "event batch not committed; retrying");
                backoff.wait().await;
            }
        }
    }
}

/// One fenced transaction; `Ok(false)` when the run's epoch moved on.
async fn commit(inner: &Inner, run_id: RunId, epoch: i64, rows: &[Row]) -> sqlx::Result<bool> {
    let id = run_id.as_uuid();
    let mut tx = inner.pool.begin().await?;
    let acted = rows.iter().any(|r| r.acted);
    let owned = sqlx::query(
        "UPDATE runs SET acted = acted OR $3, updated_at = now() WHERE id = $1 AND epoch = $2",
    )
    .bind(id)
    .bind(epoch)
    .bind(acted)
    .execute(&mut *tx)
    .await?;
    if owned.rows_affected() == 0 {
        return Ok(false);
    }
    insert_rows(&mut tx, run_id, epoch, rows.iter()).await?;
    tx.commit().await?;
    Ok(true)
}

/// Inserts event rows under `epoch` and notifies `ph_ev` (at commit), in the caller's
/// transaction.
pub(super) async fn insert_rows<'r>(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    run_id: RunId,
    epoch: i64,
    rows: impl Iterator<Item = &'r Row>,
) -> sqlx::Result<()> {
    let (mut seqs, mut kinds, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        seqs.push(row.seq);
        kinds.push(row.kind.clone());
        bodies.push(row.body.clone());
    }
    sqlx::query(
        "INSERT INTO run_events (run_id, seq, epoch, kind, body) \
         SELECT $1, s, $2, k, b FROM unnest($3::bigint[], $4::text[], $5::jsonb[]) AS t(s, k, b)",
    )
    .bind(run_id.as_uuid())
    .bind(epoch)
    .bind(seqs)
    .bind(kinds)
    .bind(bodies)
    .execute(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify('ph_ev', $1)")
        .bind(run_id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A `(run_id, seq)` that exists already: someone else wrote this run's events.
pub(super) fn is_conflict(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}
