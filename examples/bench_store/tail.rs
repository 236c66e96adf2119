//! Section 3: the delay of a live tail on the run's owner and on a node that does not own the
//! run. The owner's tail shows an event once the store has committed it (the engine's
//! `EventLog::committed`, woken by the writer's committed-events mark). Two PostgreSQL
//! nodes share one database: node A owns a run and appends an event every `pace` (noting when
//! it handed each over); node B follows the run as the engine's remote tail does (`events_after`,
//! then wait for `events_hint()` or `tail_interval()`) and notes when each event reached it.
//! Measured twice: B woken by NOTIFY (the engine's path), and B polling every `tail_ms` only
//! (what a tail gets while its node's notification listener is down). The floor: bare sqlx,
//! one connection inserting a row and `NOTIFY` in one commit, another `LISTEN`ing and reading
//! the new rows when woken.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use pilothouse::{LogWriter, PgStore, RunId, RunStore, SharedRuns};
use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::cluster::Cluster;
use crate::report::{self, Samples};
use crate::stores;

/// How B is woken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// `events_hint()` or `tail_interval()`, whichever comes first (the engine's tail).
    Notify,
    /// `tail_interval()` only.
    Poll,
}

/// When each seq was handed to the writer, indexed by seq.
type Sent = Arc<Mutex<Vec<Option<Instant>>>>;

/// One way of following, and the delays it saw.
pub(crate) struct TailRow {
    name: String,
    delays: Samples,
    /// B's waits that ended by a notification and by the timer.
    wakes: Option<Wakes>,
    floor: bool,
}

/// How B's waits ended.
#[derive(Clone, Copy, Default)]
struct Wakes {
    notified: usize,
    timer: usize,
}

/// Longest the whole follow may take past the last append.
const FOLLOW_GRACE: Duration = Duration::from_secs(10);

/// Measures both paths and the floor with `n` events, one every `pace`.
pub(crate) async fn measure(
    cluster: &Cluster,
    n: usize,
    pace: Duration,
) -> anyhow::Result<Vec<TailRow>> {
    let request = stores::request()?;
    let scratch = tempfile::Builder::new()
        .prefix("pilothouse-bench-store-")
        .tempdir()?;
    let url = cluster.database("tail").await?;
    let a = stores::pg_node(&url, "bench-node-a", scratch.path()).await?;
    let b = stores::pg_node(&url, "bench-node-b", scratch.path()).await?;
    let tail_ms = b.tail_interval().as_millis();
    let mut rows = vec![TailRow {
        name: "bare sqlx: INSERT + NOTIFY, commit → LISTEN wakes → SELECT".into(),
        delays: bare(&url, n, pace).await?,
        wakes: None,
        floor: true,
    }];
    let run_id = stores::owned_run(&a, &request).await?;
    rows.push(TailRow {
        name: "node A, the owner: shown once committed (the writer's committed mark)".into(),
        delays: owner_tail(&a, run_id, n, pace).await?,
        wakes: None,
        floor: false,
    });
    for (wake, name) in [
        (
            Wake::Notify,
            format!("node B woken by NOTIFY (events_hint; tail_ms = {tail_ms} as fallback)"),
        ),
        (
            Wake::Poll,
            format!("node B polling every tail_ms = {tail_ms} (default; no NOTIFY)"),
        ),
    ] {
        let run_id = stores::owned_run(&a, &request).await?;
        let (delays, wakes) = follow_run(&a, &b, run_id, wake, n, pace).await?;
        rows.push(TailRow {
            name,
            delays,
            wakes: Some(wakes),
            floor: false,
        });
    }
    a.close().await;
    b.close().await;
    Ok(rows)
}

/// A appends `n` events to its run at `pace` while B follows; the delays B saw.
async fn follow_run(
    a: &Arc<PgStore>,
    b: &Arc<PgStore>,
    run_id: RunId,
    wake: Wake,
    n: usize,
    pace: Duration,
) -> anyhow::Result<(Samples, Wakes)> {
    // The queued event is seq 1; A writes 2..=n+1.
    let last = n as u64 + 1;
    let sent: Sent = Arc::new(Mutex::new(vec![None; n + 2]));
    let follower = tokio::spawn(follow(b.clone(), run_id, last, wake, sent.clone()));
    let log = a.open_log(run_id)?;
    append_paced(log, run_id, last, pace, &sent).await?;
    tokio::time::timeout(FOLLOW_GRACE, follower)
        .await
        .context("node B did not see every event in time")??
}

/// A's side: appends seqs `2..=last` to its run's log at `pace`, noting when each was handed
/// over, then syncs the log.
async fn append_paced(
    mut log: Box<dyn LogWriter>,
    run_id: RunId,
    last: u64,
    pace: Duration,
    sent: &Sent,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(pace);
    for seq in 2..=last {
        tick.tick().await;
        let (event, line) = stores::action_event(run_id, seq);
        sent.lock().unwrap()[seq as usize] = Some(Instant::now());
        log.append_event(&event, &line)?;
    }
    tokio::task::spawn_blocking(move || log.sync()).await??;
    Ok(())
}

/// A appends `n` events to its own run at `pace`; each one's delay until the writer's
/// committed-events mark passed it (what the owner's live tail waits for).
async fn owner_tail(
    a: &Arc<PgStore>,
    run_id: RunId,
    n: usize,
    pace: Duration,
) -> anyhow::Result<Samples> {
    let last = n as u64 + 1;
    let sent: Sent = Arc::new(Mutex::new(vec![None; n + 2]));
    let log = a.open_log(run_id)?;
    let mut mark = log
        .durable()
        .context("a PostgreSQL log has a committed mark")?;
    let follower = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let (mut seen, mut delays) = (1u64, Vec::with_capacity(n));
            while seen < last {
                mark.changed().await?;
                let committed = mark.borrow_and_update().seq;
                let now = Instant::now();
                for seq in seen + 1..=committed {
                    delays.push(now - sent.lock().unwrap()[seq as usize].context("unsent")?);
                }
                seen = seen.max(committed);
            }
            anyhow::Ok(Samples::new(delays))
        })
    };
    append_paced(log, run_id, last, pace, &sent).await?;
    tokio::time::timeout(FOLLOW_GRACE, follower)
        .await
        .context("the owner's committed mark did not pass every event in time")??
}

/// B's side: the engine's remote tail (`command.rs`, `Remote::next_events`), noting when each
/// event arrived.
async fn follow(
    b: Arc<PgStore>,
    run_id: RunId,
    last: u64,
    wake: Wake,
    sent: Sent,
) -> anyhow::Result<(Samples, Wakes)> {
    let hint = b.events_hint();
    let mut seen = 1;
    let mut delays = Vec::new();
    let mut wakes = Wakes::default();
    while seen < last {
        let woken = hint.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let events = b.events_after(run_id, seen).await?;
        let now = Instant::now();
        for event in &events {
            let at = sent.lock().unwrap()[event.seq as usize].context("an event not yet sent")?;
            delays.push(now - at);
            seen = event.seq;
        }
        if !events.is_empty() {
            continue;
        }
        match wake {
            Wake::Notify => tokio::select! {
                () = woken => wakes.notified += 1,
                () = tokio::time::sleep(b.tail_interval()) => wakes.timer += 1,
            },
            Wake::Poll => {
                tokio::time::sleep(b.tail_interval()).await;
                wakes.timer += 1;
            }
        }
    }
    Ok((Samples::new(delays), wakes))
}

/// The floor: a row and a notification per event, committed together; a listener that reads
/// the new rows when woken.
async fn bare(url: &str, n: usize, pace: Duration) -> anyhow::Result<Samples> {
    let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
    sqlx::query("CREATE TABLE bench_tail (seq bigint PRIMARY KEY, body jsonb NOT NULL)")
        .execute(&pool)
        .await?;
    let mut listener = PgListener::connect(url).await?;
    listener.listen("bench_tail").await?;
    let sent: Sent = Arc::new(Mutex::new(vec![None; n + 1]));
    let reader = {
        let (pool, sent) = (pool.clone(), sent.clone());
        async move {
            let (mut seen, mut delays) = (0i64, Vec::with_capacity(n));
            while seen < n as i64 {
                listener.recv().await?;
                let seqs: Vec<i64> =
                    sqlx::query_scalar("SELECT seq FROM bench_tail WHERE seq > $1 ORDER BY seq")
                        .bind(seen)
                        .fetch_all(&pool)
                        .await?;
                let now = Instant::now();
                for seq in seqs {
                    delays.push(now - sent.lock().unwrap()[seq as usize].context("unsent")?);
                    seen = seq;
                }
            }
            anyhow::Ok(Samples::new(delays))
        }
    };
    let reader = tokio::spawn(reader);
    let body = serde_json::to_value(stores::action_event(RunId::new(), 1).0)?;
    let mut tick = tokio::time::interval(pace);
    for seq in 1..=n as i64 {
        tick.tick().await;
        sent.lock().unwrap()[seq as usize] = Some(Instant::now());
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO bench_tail (seq, body) VALUES ($1, $2)")
            .bind(seq)
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        sqlx::query("SELECT pg_notify('bench_tail', '')")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    let delays = tokio::time::timeout(FOLLOW_GRACE, reader)
        .await
        .context("the bare listener did not see every row in time")???;
    pool.close().await;
    Ok(delays)
}

/// Prints the section's table.
pub(crate) fn print(rows: &[TailRow], n: usize, pace: Duration) {
    println!(
        "\n## 3. Live-tail delay on the owner and across nodes ({n} events, one every {} ms; append → the tail's read; ×floor: p50 ÷ the floor's p50)\n",
        pace.as_millis()
    );
    let floor = rows.iter().find(|r| r.floor).map(|r| r.delays.ms(0.5));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let p50 = row.delays.ms(0.5);
            vec![
                row.name.clone(),
                row.delays.len().to_string(),
                report::ms(p50),
                report::ms(row.delays.ms(0.99)),
                report::ms(row.delays.max_ms()),
                match (row.floor, floor) {
                    (true, _) | (_, None) => "floor".into(),
                    (false, Some(f)) => report::ratio(p50, f),
                },
                row.wakes
                    .map_or("–".into(), |w| format!("{} / {}", w.notified, w.timer)),
            ]
        })
        .collect();
    report::table(
        &[
            "path",
            "events",
            "p50 ms",
            "p99 ms",
            "max ms",
            "×floor",
            "B woken by NOTIFY / timer",
        ],
        &table,
    );
    println!(
        "\nThe owner's tail reads its in-memory log but shows each event only once committed, so \
         a node fenced out of a run never shows an event the others will not read. With the file \
         store (one node) there is no such wait: that delivery is bench_service's SSE fan-out."
    );
}
