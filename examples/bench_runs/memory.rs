//! The orchestrator's own memory per finished run: 10,000 runs of the workload through an
//! instant driver (a `BrowserLauncher` whose pages answer every action at once), in a child
//! process of its own so the browsers the rest of the benchmark drove leave nothing in its heap.
//!
//! The child starts an engine with `[registry]` defaults (finished runs stay in memory up to
//! `max_finished_runs`, then are served from the store), runs a warm-up, and reads its own
//! `VmRSS` at three points: after the warm-up, once the registry is full (`max_finished_runs`
//! more runs), and after all runs. It prints one JSON line; the parent reads it.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use futures::future::BoxFuture;
use pilothouse::{Action, Config, RunState};
// The engine's browser seam, below the facade: the instant driver plugs in there.
use pilothouse_actors::{
    ActionBounds, ActionFailure, ActionOutput, BrowserError, BrowserLauncher, CloseMode,
    CloseReport, DirStore, Engine, LaunchSpec, OrchestratorHandle, PageDriver, RunRequest,
};
use serde_json::{Value, json};

use crate::site::GREETING;

/// Uncounted runs before the first RSS reading (lazy statics, thread pools, first allocations).
const WARMUP_RUNS: usize = 50;
/// Clients submitting at once: `max_concurrent_runs`' default, so runs never wait in the queue.
const CLIENTS: usize = 4;

/// Runs the measurement in a child process (this same program with `--memory-child N`).
pub(crate) async fn measure(runs: usize, root: &Path) -> anyhow::Result<MemoryReport> {
    let exe = std::env::current_exe().context("cannot find the benchmark's own executable")?;
    let output = tokio::process::Command::new(exe)
        .arg("--memory-child")
        .arg(runs.to_string())
        .env("TMPDIR", root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot start the memory child")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().rev().find(|l| l.starts_with('{')) else {
        bail!("the memory child ({}) printed no result", output.status);
    };
    let report: Value = serde_json::from_str(line)?;
    let field = |name: &str| report[name].as_f64().unwrap_or(f64::NAN);
    Ok(MemoryReport {
        runs: field("runs") as usize,
        registry_bound: field("registry_bound") as usize,
        rss_start: field("rss_start"),
        rss_bound: field("rss_bound"),
        rss_end: field("rss_end"),
        runs_per_sec: field("runs_per_sec"),
        finished_in_memory: field("finished_in_memory") as usize,
    })
}

/// The child: `runs` instant runs after a warm-up; prints the JSON line `measure` reads.
pub(crate) async fn child(runs: usize) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("pilothouse-bench-memory-")
        .tempdir()?;
    let mut config = crate::pilothouse::config(
        Config::default().max_concurrent_runs,
        Config::default().queue_capacity,
        dir.path(),
        "instant",
        false,
    );
    config.chromium_path = Some("/bin/true".into());
    let registry_bound = config.registry.max_finished_runs;
    let store = Arc::new(DirStore::new(config.runs_dir.clone()));
    let engine = Engine::start_with(config, store, Arc::new(InstantLauncher)).await?;
    let handle = engine.handle();
    let request = crate::pilothouse::workload("http://127.0.0.1:9")?;
    let batch = |count: usize| run_batch(&handle, &request, count);
    batch(WARMUP_RUNS).await?;
    let rss_start = rss_bytes()?;
    let started = Instant::now();
    let to_bound = registry_bound.min(runs);
    batch(to_bound).await?;
    let rss_bound = rss_bytes()?;
    batch(runs - to_bound).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let rss_end = rss_bytes()?;
    let stats = handle.stats().await?;
    handle.shutdown(std::time::Duration::from_secs(10)).await?;
    drop(handle);
    engine.join().await;
    println!(
        "{}",
        json!({
            "runs": runs,
            "registry_bound": registry_bound,
            "rss_start": rss_start,
            "rss_bound": rss_bound,
            "rss_end": rss_end,
            "runs_per_sec": runs as f64 / elapsed,
            "finished_in_memory": stats.finished_in_memory,
        })
    );
    Ok(())
}

/// `CLIENTS` clients submit `request` back to back until `count` runs have started; fails on
/// the first run that does not complete.
async fn run_batch(
    handle: &OrchestratorHandle,
    request: &RunRequest,
    count: usize,
) -> anyhow::Result<()> {
    let next = AtomicUsize::new(0);
    let clients = (0..CLIENTS).map(|_| async {
        while next.fetch_add(1, Ordering::Relaxed) < count {
            let run_id = handle.submit(request.clone()).await?;
            let status = handle.wait(run_id).await?;
            ensure!(
                status.state == RunState::Completed,
                "instant run {run_id} ended {}: {:?}",
                status.state,
                status.error
            );
        }
        anyhow::Ok(())
    });
    futures::future::try_join_all(clients).await.map(|_| ())
}

/// This process's resident set size, from `/proc/self/status`.
fn rss_bytes() -> anyhow::Result<u64> {
    crate::procs::own_rss_bytes().context("no VmRSS in /proc/self/status")
}

impl BrowserLauncher for InstantLauncher {
    fn launch(
        &self,
        _spec: LaunchSpec,
    ) -> BoxFuture<'static, Result<Box<dyn PageDriver>, BrowserError>> {
        Box::pin(async { Ok(Box::new(InstantPage) as Box<dyn PageDriver>) })
    }

    fn egress(&self) -> &'static str {
        "none (instant benchmark driver: no browser, no request)"
    }
}

impl PageDriver for InstantPage {
    /// Answers at once, with outputs shaped like the real driver's (so events weigh the same).
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        _bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>> {
        let output = match action {
            Action::Goto { url, .. } => ActionOutput {
                text: format!("Navigated to {url} (status 200)"),
                url: Some(url.clone()),
                ..ActionOutput::default()
            },
            Action::Extract { .. } => ActionOutput {
                text: format!("Extracted {} chars", GREETING.len()),
                value: Some(Value::String(GREETING.into())),
                ..ActionOutput::default()
            },
            Action::Evaluate { .. } => ActionOutput {
                text: "\"Greeted Ada\"".into(),
                value: Some(Value::String("Greeted Ada".into())),
                ..ActionOutput::default()
            },
            other => ActionOutput {
                text: format!("{} done", other.name()),
                ..ActionOutput::default()
            },
        };
        Box::pin(async move { Ok(output) })
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>> {
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>, _mode: CloseMode) -> BoxFuture<'static, CloseReport> {
        Box::pin(async {
            CloseReport {
                graceful: true,
                problem: None,
            }
        })
    }

    fn pid(&self) -> Option<u32> {
        None
    }
}

/// A launcher of instant pages: no process, no request, no wait.
struct InstantLauncher;

/// A page that answers every action at once.
struct InstantPage;

/// What the memory child measured.
pub(crate) struct MemoryReport {
    /// Measured runs (after the warm-up).
    pub(crate) runs: usize,
    /// `[registry] max_finished_runs`.
    pub(crate) registry_bound: usize,
    /// RSS in bytes after the warm-up, once the registry was full, and at the end.
    pub(crate) rss_start: f64,
    pub(crate) rss_bound: f64,
    pub(crate) rss_end: f64,
    /// The orchestrator's own throughput with an instant driver.
    pub(crate) runs_per_sec: f64,
    /// Finished runs still in memory at the end (`stats()`).
    pub(crate) finished_in_memory: usize,
}
