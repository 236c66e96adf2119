//! The Pilothouse systems (d, d-rec, d-proc, d-cold): the workload through Pilothouse's public
//! handle, as a host runs it: a request submitted, its events followed to `finished`. One
//! orchestrator per measured level (`max_concurrent_runs` = the level's concurrency), its pool
//! fully warm (every process up, every spare context made) before the warm-up run and again
//! before the measured runs, so each level starts from the same state.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use pilothouse::{
    Config, EventKind, Isolation, Orchestrator, OrchestratorHandle, RunRequest, RunState, RunStatus,
};
use serde_json::json;

use crate::site::GREETING;
use crate::{CHROMIUM, Measured, RunSample, closed_loop, ms_since};

/// How long shutdown may take once a level is measured.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the pool may take to start its processes and make its spare contexts.
const WARM_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the pool's stats are read while waiting for it to be warm.
const WARM_POLL: Duration = Duration::from_millis(20);

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
/// `[browser]` and `[registry]` keep their defaults.
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
/// With `sample_pss`, the PSS of every Chromium under the orchestrator's profile root (the
/// warm pool included) is sampled during the measured runs.
pub(crate) async fn measure(
    root: &Path,
    base: &str,
    concurrency: usize,
    runs: usize,
    variant: Variant,
    sample_pss: bool,
) -> anyhow::Result<Measured> {
    let request = workload(base)?;
    let name = format!("pilothouse-{}-c{concurrency}", variant.name);
    let mut config = config(concurrency, concurrency + 4, root, &name, variant.record);
    config.browser.isolation = variant.isolation;
    if let Some(spares) = variant.spare_contexts {
        config.browser.spare_contexts = spares;
    }
    let profiles = config.profile_root.clone();
    let (processes, spares) = (config.browser.pool_processes, config.browser.spare_contexts);
    let orchestrator = Orchestrator::start(config).await?;
    let handle = orchestrator.handle();
    let measured = async {
        wait_until_warm(&handle, processes, spares).await?;
        let idle_pss = match sample_pss {
            true => crate::pss::idle(&profiles).await,
            false => None,
        };
        run_once(&handle, request.clone())
            .await
            .map_err(|e| e.context("Pilothouse warm-up run"))?;
        wait_until_warm(&handle, processes, spares).await?;
        let pss = sample_pss.then(|| profiles.clone());
        let measured = closed_loop(concurrency, runs, pss, || {
            run_once(&handle, request.clone())
        })
        .await;
        anyhow::Ok(Measured {
            idle_pss,
            ..measured
        })
    }
    .await;
    orchestrator.shutdown(SHUTDOWN_TIMEOUT).await;
    measured
}

/// Polls the pool's stats until `processes` are up, `spares` contexts wait and none is leased.
async fn wait_until_warm(
    handle: &OrchestratorHandle,
    processes: usize,
    spares: usize,
) -> anyhow::Result<()> {
    ensure!(
        handle.pool_warm(WARM_TIMEOUT).await,
        "the pool did not warm within {WARM_TIMEOUT:?}"
    );
    let deadline = Instant::now() + WARM_TIMEOUT;
    loop {
        let pool = handle.stats().await?.pool;
        let warm = pool.as_ref().is_some_and(|p| {
            p.processes >= processes && p.spare_contexts >= spares && p.leased == 0
        });
        if warm {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "the pool is not fully warm after {WARM_TIMEOUT:?}: {pool:?}"
        );
        tokio::time::sleep(WARM_POLL).await;
    }
}

/// Submits one run and follows its events to the end. Run time is submit → `finished` as the
/// host sees it. The first action starts at the run's `state: running` event (emitted as the
/// driver starts its first action); each action's time is the gap between its `action` event
/// and the event before it (the running event, or the previous action): what the run waits
/// for, guard checks, settling, recording capture and hand-offs included, at µs resolution.
async fn run_once(handle: &OrchestratorHandle, request: RunRequest) -> anyhow::Result<RunSample> {
    let started = Instant::now();
    let submitted_at = Utc::now();
    let run_id = handle.submit(request).await?;
    let mut events = handle.events(run_id, 0).await?;
    let mut steps = Vec::with_capacity(10);
    let mut running_at: Option<DateTime<Utc>> = None;
    let mut previous_at: Option<DateTime<Utc>> = None;
    let mut lease_ms = None;
    let mut admit_ms = None;
    let ms_between = |from: DateTime<Utc>, to: DateTime<Utc>| {
        (to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0
    };
    while let Some(event) = events.next().await {
        match event.kind {
            EventKind::Queued { .. } => admit_ms = Some(ms_between(submitted_at, event.at)),
            EventKind::BrowserReady { launch_ms } => lease_ms = Some(launch_ms as f64),
            EventKind::State {
                state: RunState::Running,
            } => {
                running_at = Some(event.at);
                previous_at = Some(event.at);
            }
            EventKind::Action {
                action,
                success,
                error,
                ..
            } => {
                ensure!(success, "{action} failed: {error:?}");
                let Some(previous) = previous_at else {
                    bail!("run {run_id}: an action event before the running state");
                };
                steps.push(ms_between(previous, event.at));
                previous_at = Some(event.at);
            }
            EventKind::Finished { status } => {
                completed_with_the_greeting(&status)?;
                let Some(running_at) = running_at else {
                    bail!("run {run_id}: no running state event");
                };
                return Ok(RunSample {
                    wall_ms: ms_since(started),
                    first_action_ms: ms_between(submitted_at, running_at),
                    steps,
                    lease_ms,
                    admit_ms,
                });
            }
            _ => {}
        }
    }
    bail!("run {run_id}: the event stream ended without a finished event")
}

/// Fails unless the run completed and extracted the greeting.
fn completed_with_the_greeting(status: &RunStatus) -> anyhow::Result<()> {
    let run_id = status.run_id;
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
    Ok(())
}

/// How one Pilothouse system is configured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Variant {
    /// Names its directories.
    pub(crate) name: &'static str,
    /// `[browser] isolation`.
    pub(crate) isolation: Isolation,
    /// The whole recording on or off.
    pub(crate) record: bool,
    /// `[browser] spare_contexts`, when not the default.
    pub(crate) spare_contexts: Option<usize>,
}
