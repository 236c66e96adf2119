//! Section 1: durable submits per second. What admission makes durable before it answers —
//! for the file store `create_run` + `open_log` + `write_status` of the `queued` status (temp
//! file, fsync, rename, directory fsync); for PostgreSQL `SharedRuns::enqueue` (one transaction:
//! the queue count under an advisory lock, the `runs` row, the first event, `NOTIFY`, commit) —
//! sequentially and from 8 concurrent submitters, beside the floor of each medium: a bare
//! `mkdir` + write + fsync + rename + directory fsync, and a bare sqlx `INSERT` + commit of a
//! similar row in a table of its own (no index but its key, no lock, no event row).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use pilothouse::{DirStore, RunId, RunRequest, RunStore, SharedRuns};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::cluster::Cluster;
use crate::report::{self, Samples};
use crate::stores::{self, AsyncOp, timed_async, timed_blocking};

/// Concurrent submitters in the second measurement.
pub(crate) const SUBMITTERS: usize = 8;
/// Uncounted submits per system before the measurement (connections opened, directories warm).
const WARM_UP: usize = 5;
/// The systems take turns in this many rounds.
const ROUNDS: usize = 4;

type BlockingOp = Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>;

enum Op {
    Blocking(BlockingOp),
    Async(AsyncOp),
}

/// Submits per second and each submit's time.
struct Measured {
    per_sec: f64,
    samples: Samples,
}

/// One system, sequential and concurrent.
pub(crate) struct SubmitRow {
    name: &'static str,
    seq: Measured,
    concurrent: Measured,
    /// The row of the floor this one is compared with (`None`: it is a floor).
    floor: Option<usize>,
}

/// Measures the four systems, `n` submits each, sequential and concurrent.
pub(crate) async fn measure(cluster: &Cluster, n: usize) -> anyhow::Result<Vec<SubmitRow>> {
    let request = Arc::new(stores::request()?);
    let scratch = tempfile::Builder::new()
        .prefix("pilothouse-bench-store-")
        .tempdir()?;
    let url = cluster.database("submits").await?;
    let pool = PgPoolOptions::new()
        .max_connections(SUBMITTERS as u32)
        .connect(&url)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_submits (id uuid PRIMARY KEY, state text NOT NULL, \
         request jsonb NOT NULL, labels jsonb NOT NULL, status jsonb NOT NULL)",
    )
    .execute(&pool)
    .await?;
    let node = stores::pg_node(&url, "bench-submits", scratch.path()).await?;
    let systems: [(&'static str, Option<usize>, Op); 4] = [
        (
            "bare file: mkdir + write + fsync + rename + dir fsync",
            None,
            bare_file(scratch.path().join("bare"), &request)?,
        ),
        (
            "file store (DirStore)",
            Some(0),
            file_store(scratch.path().join("runs"), &request),
        ),
        (
            "bare sqlx: INSERT + commit",
            None,
            bare_sqlx(pool.clone(), &request)?,
        ),
        (
            "PostgreSQL store (PgStore::enqueue)",
            Some(2),
            pg_store(node.clone(), &request),
        ),
    ];
    let ops: Vec<&Op> = systems.iter().map(|(_, _, op)| op).collect();
    let [seq, concurrent] = take_turns(&ops, n).await?;
    node.close().await;
    pool.close().await;
    let rows = systems
        .into_iter()
        .zip(seq.into_iter().zip(concurrent))
        .map(|((name, floor, _), (seq, concurrent))| SubmitRow {
            name,
            seq: seq.measured(),
            concurrent: concurrent.measured(),
            floor,
        })
        .collect();
    Ok(rows)
}

/// Wall time and submit times gathered over the rounds.
#[derive(Default)]
struct Tally {
    wall: Duration,
    samples: Samples,
}

impl Tally {
    fn measured(self) -> Measured {
        Measured {
            per_sec: self.samples.len() as f64 / self.wall.as_secs_f64(),
            samples: self.samples,
        }
    }
}

/// `n` submits per system and level, in [`ROUNDS`] rounds in which every system takes its
/// turn, sequential then concurrent: a slow spell of the shared machine falls on all of them.
async fn take_turns(ops: &[&Op], n: usize) -> anyhow::Result<[Vec<Tally>; 2]> {
    for op in ops {
        timed(op, WARM_UP, 1).await?;
    }
    let mut tallies = [(); 2].map(|()| ops.iter().map(|_| Tally::default()).collect::<Vec<_>>());
    for round in 0..ROUNDS {
        let share = n / ROUNDS + usize::from(round < n % ROUNDS);
        for (i, op) in ops.iter().enumerate() {
            for (level, workers) in [1, SUBMITTERS].into_iter().enumerate() {
                let (wall, samples) = timed(op, share, workers).await?;
                let tally = &mut tallies[level][i];
                tally.wall += wall;
                tally.samples = std::mem::take(&mut tally.samples).merged(samples);
            }
        }
    }
    Ok(tallies)
}

async fn timed(op: &Op, n: usize, workers: usize) -> anyhow::Result<(Duration, Samples)> {
    match op {
        Op::Blocking(f) => {
            let f = f.clone();
            timed_blocking(n, workers, move || f()).await
        }
        Op::Async(f) => timed_async(n, workers, f.clone()).await,
    }
}

/// The queued status's bytes, written atomically into a new directory.
fn bare_file(root: PathBuf, request: &RunRequest) -> anyhow::Result<Op> {
    fs::create_dir_all(&root)?;
    let bytes = serde_json::to_vec_pretty(&stores::queued_status(RunId::new(), request))?;
    Ok(Op::Blocking(Arc::new(move || {
        write_status_file(&root.join(RunId::new().to_string()), &bytes)?;
        Ok(())
    })))
}

fn write_status_file(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir(dir)?;
    let tmp = dir.join(".status.json.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join("status.json"))?;
    File::open(dir)?.sync_all()
}

/// What admission does with the file store.
fn file_store(root: PathBuf, request: &Arc<RunRequest>) -> Op {
    let store = DirStore::new(root);
    let request = request.clone();
    Op::Blocking(Arc::new(move || {
        let run_id = RunId::new();
        store.create_run(run_id)?;
        drop(store.open_log(run_id)?);
        store.write_status(&stores::queued_status(run_id, &request))?;
        Ok(())
    }))
}

/// What admission does with the PostgreSQL store.
fn pg_store(node: Arc<pilothouse::PgStore>, request: &Arc<RunRequest>) -> Op {
    let request = request.clone();
    Op::Blocking(Arc::new(move || {
        node.enqueue(stores::new_run(&request))?;
        Ok(())
    }))
}

/// One similar row in one transaction.
fn bare_sqlx(pool: PgPool, request: &RunRequest) -> anyhow::Result<Op> {
    let request_json = Arc::new(serde_json::to_value(request)?);
    let labels = Arc::new(serde_json::to_value(&request.labels)?);
    let status = Arc::new(serde_json::to_value(stores::queued_status(
        RunId::new(),
        request,
    ))?);
    Ok(Op::Async(Arc::new(move || {
        let (pool, request_json) = (pool.clone(), request_json.clone());
        let (labels, status) = (labels.clone(), status.clone());
        async move {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO bench_submits (id, state, request, labels, status) \
                 VALUES ($1, 'queued', $2, $3, $4)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(&*request_json)
            .bind(&*labels)
            .bind(&*status)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .boxed()
    })))
}

/// Prints the section's table.
pub(crate) fn print(rows: &[SubmitRow], n: usize) {
    println!(
        "\n## 1. Durable submits ({n} per system and level; the systems take turns in {ROUNDS} \
         rounds; ×floor: submits/s ÷ the floor's)\n"
    );
    let rate = |m: &Measured, floor: Option<&Measured>| {
        vec![
            report::rate(m.per_sec),
            report::ms(m.samples.ms(0.5)),
            report::ms(m.samples.ms(0.99)),
            floor.map_or("floor".into(), |f| report::ratio(m.per_sec, f.per_sec)),
        ]
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let floor = row.floor.map(|i| &rows[i]);
            let mut cells = vec![row.name.to_owned()];
            cells.extend(rate(&row.seq, floor.map(|f| &f.seq)));
            cells.extend(rate(&row.concurrent, floor.map(|f| &f.concurrent)));
            cells
        })
        .collect();
    report::table(
        &[
            "system",
            "sequential /s",
            "p50 ms",
            "p99 ms",
            "×floor",
            "8 submitters /s",
            "p50 ms",
            "p99 ms",
            "×floor",
        ],
        &table,
    );
}
