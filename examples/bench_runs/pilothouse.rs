//! System (d): the workload through Pilothouse's public handle, as a host runs it: a request
//! submitted, its events followed to `finished`. One orchestrator per measured level
//! (`max_concurrent_runs` = the level's concurrency), recording off or on.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use futures::StreamExt;
use pilothouse::{Config, EventKind, Orchestrator, OrchestratorHandle, RunRequest, RunState};
use serde_json::json;

use crate::site::GREETING;
use crate::{CHROMIUM, Measured, RunSample, closed_loop, ms_since};

/// How long shutdown may take once a level is measured.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The ten steps as a script request; the site is on 127.0.0.1, so private networks are
/// allowed explicitly.
pub(crate) fn workload(base: &str) -> anyhow::Result<RunRequest> {
    let request = json!({
        "driver": {"type": "script", "steps": [
            {"action": "goto", "url": format!("{base}/")},
            {"action": "select", "selector": "#pick", "value": "b"},
            {"action": "click", "selector": "#next"},
            {"action": "type", "selector": "#name", "text": "Ada"},
            {"action": "click", "selector": "#go"},
            {"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000},
            {"action": "extract", "selector": "#out", "store_as": "greeting"},
            {"action": "evaluate", "script": "document.title", "store_as": "title"},
            {"action": "screenshot"},
            {"action": "goto", "url": format!("{base}/")}
        ]},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    Ok(RunRequest::from_json(&request.to_string())?)
}

/// An orchestrator's config with every directory under `root/name`; `record` turns the whole
/// recording (screenshots per action, `actions.jsonl`, final DOM, report, upload) on or off.
pub(crate) fn config(
    concurrency: usize,
    queue: usize,
    root: &Path,
    name: &str,
    record: bool,
) -> Config {
    let mut config = Config {
        chromium_path: Some(PathBuf::from(CHROMIUM)),
        runs_dir: root.join(name).join("runs"),
        profile_root: root.join(name).join("profiles"),
        max_concurrent_runs: concurrency,
        queue_capacity: queue,
        ..Config::default()
    };
    config.recording.recordings_dir = root.join(name).join("recordings");
    let r = &mut config.recording;
    (r.screenshots, r.actions, r.final_dom, r.report, r.upload) =
        (record, record, record, record, record);
    config
}

/// One warm-up and `runs` measured runs, `concurrency` clients each submitting a run and
/// waiting for it to finish before submitting the next (the same closed loop as every system).
pub(crate) async fn measure(
    root: &Path,
    base: &str,
    concurrency: usize,
    runs: usize,
    record: bool,
) -> anyhow::Result<Measured> {
    let request = workload(base)?;
    let name = format!("pilothouse-c{concurrency}-rec{}", u8::from(record));
    let orchestrator =
        Orchestrator::start(config(concurrency, concurrency + 4, root, &name, record)).await?;
    let handle = orchestrator.handle();
    let measured = async {
        run_once(&handle, request.clone())
            .await
            .map_err(|e| e.context("Pilothouse warm-up run"))?;
        anyhow::Ok(closed_loop(concurrency, runs, || run_once(&handle, request.clone())).await)
    }
    .await;
    orchestrator.shutdown(SHUTDOWN_TIMEOUT).await;
    measured
}

/// Submits one run and follows its events to the end. Run time is submit → `finished` as the
/// host sees it; the first action's start is its event's `at` minus its `duration_ms`.
async fn run_once(handle: &OrchestratorHandle, request: RunRequest) -> anyhow::Result<RunSample> {
    let started = Instant::now();
    let submitted_at = chrono::Utc::now();
    let run_id = handle.submit(request).await?;
    let mut events = handle.events(run_id, 0).await?;
    let mut steps = Vec::with_capacity(10);
    let mut first_action_ms = f64::NAN;
    while let Some(event) = events.next().await {
        match event.kind {
            EventKind::Action {
                action,
                duration_ms,
                success,
                error,
                ..
            } => {
                ensure!(success, "{action} failed: {error:?}");
                if steps.is_empty() {
                    let done = (event.at - submitted_at).num_microseconds().unwrap_or(0);
                    first_action_ms = done as f64 / 1000.0 - duration_ms as f64;
                }
                steps.push(duration_ms as f64);
            }
            EventKind::Finished { status } => {
                ensure!(
                    status.state == RunState::Completed,
                    "run {run_id} ended {}: {:?}",
                    status.state,
                    status.error
                );
                ensure!(
                    status.data.get("greeting") == Some(&json!(GREETING)),
                    "run {run_id} extracted {:?}, not {GREETING:?}",
                    status.data.get("greeting")
                );
                return Ok(RunSample {
                    wall_ms: ms_since(started),
                    first_action_ms,
                    steps,
                });
            }
            _ => {}
        }
    }
    bail!("run {run_id}: the event stream ended without a finished event")
}
