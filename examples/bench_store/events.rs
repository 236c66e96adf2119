//! Section 2: what one event costs to make durable. N events go through `RunStore::open_log`
//! as the engine's event log writes them (`append_event`, then `sync`): batched (append all,
//! sync once — a run's events between two durability points) and each synced (append + sync
//! per event — the worst case, every event a durability point). File store vs PostgreSQL (a
//! run enqueued and claimed by the node first: only an owner writes events), beside the floor
//! of each medium: a bare write (+ fsync) to a file, and bare sqlx inserts (+ commit) into a
//! table like `run_events` without the fence and the notification.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pilothouse::{DirStore, PgStore, RunId, RunRequest, RunStore, SharedRuns};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::cluster::Cluster;
use crate::report::{self, Samples};
use crate::stores;

/// The systems take turns in this many rounds (each writes a batch of N and a share of the
/// each-synced events per round), so a slow spell of the shared disk falls on all of them.
const ROUNDS: usize = 4;

/// One system's event writes, gathered over the rounds.
pub(crate) struct EventRow {
    name: &'static str,
    /// Appending N events then one sync, once per round: the time and the events.
    batched: (Duration, usize),
    /// Appending and syncing each event: the whole time, and each event's time.
    each: Duration,
    each_samples: Samples,
    /// The row of the floor this one is compared with (`None`: it is a floor).
    floor: Option<usize>,
}

impl EventRow {
    fn new(name: &'static str, floor: Option<usize>) -> Self {
        Self {
            name,
            batched: (Duration::ZERO, 0),
            each: Duration::ZERO,
            each_samples: Samples::default(),
            floor,
        }
    }

    fn add(&mut self, n: usize, ((batched, _), (each, samples)): Modes) {
        self.batched.0 += batched;
        self.batched.1 += n;
        self.each += each;
        self.each_samples = std::mem::take(&mut self.each_samples).merged(samples);
    }
}

/// What a round writes to.
struct Targets {
    bare_dir: PathBuf,
    files: Arc<dyn RunStore>,
    pool: PgPool,
    node: Arc<PgStore>,
    request: RunRequest,
}

/// Measures the four systems: batches of `n` events, and `n` events each synced.
pub(crate) async fn measure(cluster: &Cluster, n: usize) -> anyhow::Result<Vec<EventRow>> {
    let scratch = tempfile::Builder::new()
        .prefix("pilothouse-bench-store-")
        .tempdir()?;
    let url = cluster.database("events").await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_events (run_id uuid NOT NULL, seq bigint NOT NULL, \
         kind text NOT NULL, body jsonb NOT NULL, PRIMARY KEY (run_id, seq))",
    )
    .execute(&pool)
    .await?;
    let targets = Targets {
        bare_dir: scratch.path().join("bare"),
        files: Arc::new(DirStore::new(scratch.path().join("runs"))),
        pool,
        node: stores::pg_node(&url, "bench-events", scratch.path()).await?,
        request: stores::request()?,
    };
    let mut rows = vec![
        EventRow::new("bare file: write (+ fsync)", None),
        EventRow::new("file store (DirStore log)", Some(0)),
        EventRow::new(
            "bare sqlx: INSERT (+ commit); batched: one INSERT … unnest of N rows",
            None,
        ),
        EventRow::new("PostgreSQL store (PgStore log)", Some(2)),
    ];
    for round in 0..ROUNDS {
        let share = n / ROUNDS + usize::from(round < n % ROUNDS);
        let modes = one_round(&targets, n, share).await?;
        for (row, modes) in rows.iter_mut().zip(modes) {
            row.add(n, modes);
        }
    }
    targets.node.close().await;
    targets.pool.close().await;
    Ok(rows)
}

/// Each system in turn: a batch of `n` events, then `share` events each synced.
async fn one_round(t: &Targets, n: usize, share: usize) -> anyhow::Result<[Modes; 4]> {
    let bare_file = bare_file(t.bare_dir.clone(), n, share).await?;
    let files = (
        write_log(t.files.clone(), new_file_run(&t.files)?, 1, n, false).await?,
        write_log(t.files.clone(), new_file_run(&t.files)?, 1, share, true).await?,
    );
    let bare_sqlx = bare_sqlx(&t.pool, n, share).await?;
    // The queued event is seq 1: the node's events follow it.
    let pg: Arc<dyn RunStore> = t.node.clone();
    let batched = stores::owned_run(&t.node, &t.request).await?;
    let batched = write_log(pg.clone(), batched, 2, n, false).await?;
    let each = stores::owned_run(&t.node, &t.request).await?;
    let each = write_log(pg, each, 2, share, true).await?;
    Ok([bare_file, files, bare_sqlx, (batched, each)])
}

fn new_file_run(files: &Arc<dyn RunStore>) -> std::io::Result<RunId> {
    let run_id = RunId::new();
    files.create_run(run_id)?;
    Ok(run_id)
}

/// Appends events `first_seq..` through the store's log: all then one sync (`each_synced`
/// false), or a sync after each. The events are built before the clock starts.
async fn write_log(
    store: Arc<dyn RunStore>,
    run_id: RunId,
    first_seq: u64,
    n: usize,
    each_synced: bool,
) -> anyhow::Result<(Duration, Samples)> {
    tokio::task::spawn_blocking(move || {
        let events: Vec<_> = (0..n as u64)
            .map(|i| stores::action_event(run_id, first_seq + i))
            .collect();
        let mut log = store.open_log(run_id)?;
        let mut times = Vec::with_capacity(n);
        let started = Instant::now();
        for (event, line) in &events {
            let one = Instant::now();
            log.append_event(event, line)?;
            if each_synced {
                log.sync()?;
                times.push(one.elapsed());
            }
        }
        log.sync()?;
        Ok((started.elapsed(), Samples::new(times)))
    })
    .await?
}

type Modes = ((Duration, Samples), (Duration, Samples));

/// A bare file: N writes then one fsync; N writes each followed by an fsync.
async fn bare_file(dir: PathBuf, n: usize, share: usize) -> anyhow::Result<Modes> {
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let line = stores::action_event(RunId::new(), 1).1;
        let mut modes = Vec::new();
        for (each_synced, n) in [(false, n), (true, share)] {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{}.jsonl", RunId::new())))?;
            let mut times = Vec::with_capacity(n);
            let started = Instant::now();
            for _ in 0..n {
                let one = Instant::now();
                file.write_all(&line)?;
                if each_synced {
                    file.sync_all()?;
                    times.push(one.elapsed());
                }
            }
            file.sync_all()?;
            modes.push((started.elapsed(), Samples::new(times)));
        }
        let each = modes.pop().expect("two modes");
        Ok((modes.pop().expect("two modes"), each))
    })
    .await?
}

/// Bare sqlx: `n` rows in one `INSERT … unnest` and one commit; then `share` single-row
/// inserts, each committed.
async fn bare_sqlx(pool: &PgPool, n: usize, share: usize) -> anyhow::Result<Modes> {
    let bodies: Vec<serde_json::Value> = (0..n.max(share) as u64)
        .map(|seq| serde_json::to_value(stores::action_event(RunId::new(), seq + 1).0))
        .collect::<Result<_, _>>()?;
    let seqs: Vec<i64> = (1..=bodies.len() as i64).collect();
    let batched = bare_sqlx_batched(pool, &seqs[..n], &bodies[..n]).await?;
    let run_id = RunId::new();
    let mut times = Vec::with_capacity(share);
    let started = Instant::now();
    for (seq, body) in seqs.iter().zip(&bodies).take(share) {
        let one = Instant::now();
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO bench_events (run_id, seq, kind, body) VALUES ($1, $2, 'action', $3)",
        )
        .bind(run_id.as_uuid())
        .bind(seq)
        .bind(body)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        times.push(one.elapsed());
    }
    Ok((batched, (started.elapsed(), Samples::new(times))))
}

async fn bare_sqlx_batched(
    pool: &PgPool,
    seqs: &[i64],
    bodies: &[serde_json::Value],
) -> anyhow::Result<(Duration, Samples)> {
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO bench_events (run_id, seq, kind, body) \
         SELECT $1, s, 'action', b FROM unnest($2::bigint[], $3::jsonb[]) AS t(s, b)",
    )
    .bind(RunId::new().as_uuid())
    .bind(seqs)
    .bind(bodies)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((started.elapsed(), Samples::default()))
}

/// Prints the section's table.
pub(crate) fn print(rows: &[EventRow], n: usize) {
    println!(
        "\n## 2. Per-event write cost (batched: {ROUNDS} batches of {n} events; each synced: {n} \
         events; the systems take turns in {ROUNDS} rounds; ×floor: time ÷ the floor's time)\n"
    );
    let per_event = |(d, events): (Duration, usize)| d.as_secs_f64() * 1e6 / events as f64;
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let floor = row.floor.map(|i| &rows[i]);
            let vs = |value: f64, of: fn(&EventRow) -> (Duration, usize)| {
                floor.map_or("floor".into(), |f| report::ratio(value, per_event(of(f))))
            };
            let batched = per_event(row.batched);
            let each = per_event((row.each, row.each_samples.len()));
            vec![
                row.name.to_owned(),
                format!("{batched:.1}"),
                vs(batched, |r| r.batched),
                format!("{each:.0}"),
                report::ms(row.each_samples.ms(0.5)),
                report::ms(row.each_samples.ms(0.99)),
                vs(each, |r| (r.each, r.each_samples.len())),
            ]
        })
        .collect();
    report::table(
        &[
            "system",
            "batched µs/event",
            "×floor",
            "each synced µs/event",
            "p50 ms",
            "p99 ms",
            "×floor",
        ],
        &table,
    );
}
