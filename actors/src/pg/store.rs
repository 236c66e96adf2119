//! [`RunStore`] on PostgreSQL: statuses and event logs of the runs this node owns, written under
//! their claim's epoch; reads of any run.

use sqlx::Row;

use super::log::{PgLog, Row as EventRow, insert_rows, is_conflict};
use super::{Backoff, Inner, PgStore, io};
use crate::event::RunEvent;
use crate::run::{RunId, RunStatus};
use crate::store::{LogWriter, RunStore};

impl RunStore for PgStore {
    fn create_run(&self, run_id: RunId) -> std::io::Result<std::path::PathBuf> {
        let dir = self.inner.runs_dir.join(run_id.to_string());
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn write_status(&self, status: &RunStatus) -> std::io::Result<()> {
        let inner = self.inner.clone();
        let status = status.clone();
        self.block(async move { write_status(&inner, status).await })
    }

    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        let inner = self.inner.clone();
        self.block(async move { super::read::status(&inner, run_id).await })
            .ok()
            .flatten()
    }

    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn LogWriter>> {
        let epoch = self.inner.epoch_of(run_id)?;
        Ok(Box::new(PgLog::start(
            self.inner.clone(),
            &self.handle,
            run_id,
            epoch,
        )))
    }

    fn load_events(&self, run_id: RunId) -> Vec<RunEvent> {
        let inner = self.inner.clone();
        self.block(async move { super::read::events_after(&inner, run_id, 0).await })
            .unwrap_or_default()
    }

    fn run_ids(&self) -> Vec<RunId> {
        let inner = self.inner.clone();
        self.block(async move {
            let rows = sqlx::query("SELECT id FROM runs ORDER BY id")
                .fetch_all(&inner.pool)
                .await
                .map_err(io)?;
            Ok(rows
                .iter()
                .map(|r| RunId::from_uuid(r.get::<uuid::Uuid, _>(0)))
                .collect())
        })
        .unwrap_or_default()
    }
}

/// Writes an owned run's status under its epoch. A terminal status commits together with the
/// run's held-back terminal event, and ends the ownership; it is retried through database
/// blips while this node holds its lease (a run's end must not be lost to a restart).
async fn write_status(inner: &Inner, status: RunStatus) -> std::io::Result<()> {
    let run_id = status.run_id;
    let epoch = inner.epoch_of(run_id)?;
    let body = serde_json::to_value(&status)?;
    let terminal = match status.state.is_terminal() {
        true => inner.terminal.remove(&run_id).map(|(_, row)| row),
        false => None,
    };
    let terminal_seq = terminal.as_ref().map(|row| row.seq as u64);
    let mut backoff = Backoff::new();
    loop {
        let committed = commit_status(inner, &status, epoch, &body, terminal.as_ref()).await;
        match committed {
            Ok(true) => break,
            Err(error) if !is_conflict(&error) && status.state.is_terminal() && inner.leased() => {
                tracing::warn!(%run_id, %error, "final status not committed; retrying");
                backoff.wait().await;
            }
            Err(error) if !is_conflict(&error) => {
                if status.state.is_terminal() {
                    inner.stop_committing(run_id, None);
                }
                return Err(io(error));
            }
            // Refused (the epoch moved on), or its terminal seq was taken: another owner.
            Ok(false) | Err(_) => {
                inner.fence(run_id, "status write refused: a newer epoch owns the run");
                return Err(std::io::Error::other(format!(
                    "run {run_id} is owned by another node now; this node's write was refused"
                )));
            }
        }
    }
    if status.state.is_terminal() {
        inner.stop_committing(run_id, terminal_seq);
        inner.owned.remove(&run_id);
        inner.credentials.remove(&run_id);
    }
    Ok(())
}

/// One epoch-guarded status write (with the terminal event, if any); `Ok(false)` when the
/// run's epoch moved on.
async fn commit_status(
    inner: &Inner,
    status: &RunStatus,
    epoch: i64,
    body: &serde_json::Value,
    terminal: Option<&EventRow>,
) -> sqlx::Result<bool> {
    let run_id = status.run_id;
    let mut tx = inner.pool.begin().await?;
    let written = sqlx::query(
        "UPDATE runs SET status = $3, state = $4, updated_at = now() \
         WHERE id = $1 AND epoch = $2",
    )
    .bind(run_id.as_uuid())
    .bind(epoch)
    .bind(body)
    .bind(status.state.as_str())
    .execute(&mut *tx)
    .await?;
    if written.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(row) = terminal {
        insert_rows(&mut tx, run_id, epoch, std::iter::once(row)).await?;
    }
    tx.commit().await?;
    Ok(true)
}
