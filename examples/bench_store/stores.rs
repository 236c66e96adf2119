//! What every section builds its measurements from: the request and events written (shaped like
//! a real script run's), a PostgreSQL node, and a run that node owns (enqueued, then claimed:
//! a node writes events only for runs it claimed), plus the timing helpers that run a blocking
//! store operation `n` times from one or several threads.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use pilothouse::{
    EventKind, NewRun, PgStore, RunEvent, RunId, RunRequest, RunStatus, SharedRuns, StoreBackend,
    StoreConfig,
};

use crate::report::Samples;

/// The request every submitted run carries: a short script with labels, as a caller sends.
const REQUEST: &str = r##"{
  "start_url": "https://shop.example.com/",
  "driver": {"type": "script", "steps": [
    {"action": "click", "selector": "#login"},
    {"action": "type", "selector": "#email", "text": "ada@example.com"},
    {"action": "click", "selector": "button[type=submit]"},
    {"action": "wait_for", "selector": "#orders", "state": "visible", "timeout_ms": 5000},
    {"action": "extract", "selector": "#orders table", "store_as": "orders"}
  ]},
  "guardrails": {"allowed_domains": ["shop.example.com"]},
  "labels": {"team": "billing", "job": "nightly-orders"}
}"##;

/// The benchmark's request.
pub(crate) fn request() -> anyhow::Result<RunRequest> {
    RunRequest::from_json(REQUEST).map_err(|e| anyhow::anyhow!("the benchmark's request: {e}"))
}

/// A run's `queued` status, as admission writes it.
pub(crate) fn queued_status(run_id: RunId, request: &RunRequest) -> RunStatus {
    RunStatus::new_queued(run_id, request.driver.type_name(), request.labels.clone())
}

/// What `SharedRuns::enqueue` takes for a new run (the queue never refuses it).
pub(crate) fn new_run(request: &RunRequest) -> NewRun {
    let run_id = RunId::new();
    NewRun {
        run_id,
        request: request.clone(),
        status: queued_status(run_id, request),
        capacity: usize::MAX,
    }
}

/// An action event, about the size of a real one, and its JSON line.
pub(crate) fn action_event(run_id: RunId, seq: u64) -> (RunEvent, Vec<u8>) {
    let event = RunEvent {
        run_id,
        seq,
        at: chrono::Utc::now(),
        kind: EventKind::Action {
            step: seq as u32,
            action: "click".into(),
            input: "button[type=submit]".into(),
            duration_ms: 42,
            success: true,
            result: Some("Clicked; navigated to https://shop.example.com/orders".into()),
            error: None,
            screenshot: None,
            settle: None,
        },
    };
    let mut line = serde_json::to_vec(&event).expect("an event serializes");
    line.push(b'\n');
    (event, line)
}

/// A PostgreSQL node named `node_id` with the default `[store]` settings.
pub(crate) async fn pg_node(
    url: &str,
    node_id: &str,
    scratch: &Path,
) -> anyhow::Result<Arc<PgStore>> {
    let config = StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(url.to_owned()),
        node_id: Some(node_id.to_owned()),
        ..StoreConfig::default()
    };
    PgStore::connect(&config, scratch.join(node_id), 1)
        .await
        .map_err(|e| anyhow::anyhow!("node {node_id}: {e}"))
}

/// Enqueues a run on `store` and claims it there: `store` owns it and may write its events.
/// The database must hold no other queued run (claims take the oldest).
pub(crate) async fn owned_run(store: &Arc<PgStore>, request: &RunRequest) -> anyhow::Result<RunId> {
    let run = new_run(request);
    let run_id = run.run_id;
    let node = store.clone();
    tokio::task::spawn_blocking(move || node.enqueue(run)).await??;
    let claimed = store.claim(1).await.context("claim the run")?;
    ensure!(
        claimed.len() == 1 && claimed[0].run_id == run_id,
        "claimed {:?} instead of run {run_id}",
        claimed.iter().map(|c| c.run_id).collect::<Vec<_>>()
    );
    Ok(run_id)
}

/// `n` calls of `op` split over `workers` threads: the wall time and each call's time. Runs
/// off the async threads (store calls block).
pub(crate) async fn timed_blocking<F>(
    n: usize,
    workers: usize,
    op: F,
) -> anyhow::Result<(Duration, Samples)>
where
    F: Fn() -> anyhow::Result<()> + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let per_worker: Vec<anyhow::Result<Vec<Duration>>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..workers)
                .map(|w| {
                    let share = n / workers + usize::from(w < n % workers);
                    let op = &op;
                    scope.spawn(move || time_calls(share, op))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let wall = started.elapsed();
        let mut all = Vec::with_capacity(n);
        for times in per_worker {
            all.extend(times?);
        }
        Ok((wall, Samples::new(all)))
    })
    .await?
}

fn time_calls(
    n: usize,
    op: &(dyn Fn() -> anyhow::Result<()> + Sync),
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        op()?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// A future-returning operation, timed like [`timed_blocking`] over async tasks.
pub(crate) type AsyncOp =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// `n` awaits of `op` split over `workers` tasks: the wall time and each call's time.
pub(crate) async fn timed_async(
    n: usize,
    workers: usize,
    op: AsyncOp,
) -> anyhow::Result<(Duration, Samples)> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let share = n / workers + usize::from(w < n % workers);
            let op = op.clone();
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(share);
                for _ in 0..share {
                    let call = Instant::now();
                    op().await?;
                    times.push(call.elapsed());
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await??);
    }
    Ok((started.elapsed(), Samples::new(all)))
}
