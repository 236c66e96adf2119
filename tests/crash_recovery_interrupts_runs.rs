//! A host killed outright (SIGKILL) leaves runs mid-flight. Its Chromium processes die with it
//! (started with a parent-death signal through util-linux's `setpriv`; where that is missing,
//! the next start's sweep kills them by their profile-dir prefix, never by name). The next
//! orchestrator on the same directories marks each such run `interrupted` with a status
//! consistent with its log, keeps every event written before the kill, and removes the stale
//! profiles.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Page, Site, TestEnv, eventually, request};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, OrchestratorHandle, RecoveryReport, RunId, RunState};
use tokio::process::{Child, Command};

const RUNS: usize = 3;

/// Lines of a run's events.jsonl, once it holds an action event.
fn logged_lines(env: &TestEnv, run_id: &str) -> Vec<String> {
    let path = env.runs_dir().join(run_id).join("events.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_host_leaves_interrupted_runs_and_no_browsers() {
    let site = Site::serve(vec![(
        "/",
        Page::Html("<title>Wait</title><p>x</p>".into()),
    )])
    .await;
    let env = TestEnv::new();
    let mut host = start_host(&env, &site);
    let run_ids = wait_until_every_run_waits(&env).await;
    let before: Vec<Vec<String>> = run_ids.iter().map(|id| logged_lines(&env, id)).collect();
    let browsers = env.browsers();
    assert!(!browsers.is_empty(), "the runs' browsers should be alive");

    let host_pid = host.id().unwrap();
    host.kill().await.unwrap(); // SIGKILL, by the pid we started
    host.wait().await.unwrap();
    let dies_with_host = std::path::Path::new("/usr/bin/setpriv").is_file();
    if dies_with_host {
        // The warm pool and the runs' browsers end with the host that started them.
        eventually(
            Duration::from_secs(5),
            "the browsers end with their SIGKILLed host",
            async || {
                let left = env.browsers();
                if left.is_empty() { Ok(()) } else { Err(left) }
            },
        )
        .await;
    } else {
        assert!(!env.browsers().is_empty(), "expected orphans after SIGKILL");
    }

    // What the dead host left: each status written at its last state change, `running`.
    for id in &run_ids {
        let status = env.status_json(id.parse().unwrap());
        assert_eq!(status["state"], "running", "{status}");
    }

    let orchestrator = env.start().await;
    assert_recovered(
        &env,
        orchestrator.recovery(),
        &run_ids,
        dies_with_host,
        host_pid,
    );
    let handle = orchestrator.handle();
    for (id, lines_before) in run_ids.iter().zip(&before) {
        assert_interrupted(&handle, &env, &site, id.parse().unwrap(), lines_before).await;
    }
    orchestrator.shutdown(Duration::from_secs(5)).await;
    env.assert_no_browsers().await;
}

/// Starts `pilothouse run` on `RUNS` requests that each land on the page, then wait a minute for
/// an element that never comes.
fn start_host(env: &TestEnv, site: &Site) -> Child {
    let config_path = env.dir.path().join("config.toml");
    let top_level = format!("max_concurrent_runs = {RUNS}\n");
    std::fs::write(&config_path, env.config_toml(&top_level)).unwrap();
    let long_run = serde_json::to_string(&request(
        r##"{"driver": {"type": "script", "steps": [
               {"action": "goto", "url": "{base}/"},
               {"action": "extract", "selector": "p"},
               {"action": "wait_for", "selector": "#never", "timeout_ms": 60000}]},
             "limits": {"timeout_seconds": 120},
             "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        site,
    ))
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pilothouse"));
    command
        .arg("run")
        .arg("--json")
        .arg("--config")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for i in 0..RUNS {
        let path = env.dir.path().join(format!("long{i}.json"));
        std::fs::write(&path, &long_run).unwrap();
        command.arg(path);
    }
    command.spawn().unwrap()
}

/// Waits until every run is inside its long wait (two action events logged each); their ids.
async fn wait_until_every_run_waits(env: &TestEnv) -> Vec<String> {
    eventually(
        Duration::from_secs(60),
        "every run reaches its wait",
        async || {
            let ids: Vec<String> = std::fs::read_dir(env.runs_dir())
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let busy = ids
                .iter()
                .filter(|id| {
                    logged_lines(env, id)
                        .iter()
                        .filter(|l| l.contains("\"type\":\"action\""))
                        .count()
                        >= 2
                })
                .count();
            if ids.len() == RUNS && busy == RUNS {
                Ok(ids)
            } else {
                Err(format!("{} runs, {busy} in their wait", ids.len()))
            }
        },
    )
    .await
}

/// The next start marks every run interrupted, kills orphans only where the browsers did not
/// die with their host, removes stale profiles, and leaves no browser of the killed host.
fn assert_recovered(
    env: &TestEnv,
    recovery: &RecoveryReport,
    run_ids: &[String],
    dies_with_host: bool,
    host_pid: u32,
) {
    let mut interrupted: Vec<String> = recovery.interrupted.iter().map(RunId::to_string).collect();
    interrupted.sort();
    let mut expected = run_ids.to_vec();
    expected.sort();
    assert_eq!(interrupted, expected, "{recovery:?}");
    assert_eq!(
        recovery.orphans_killed.is_empty(),
        dies_with_host,
        "{recovery:?}"
    );
    assert!(recovery.profiles_removed >= 2, "{recovery:?}");
    // The killed host's browsers carry its pid in their profile dir's owner tag; the new
    // orchestrator's warm pool is its own.
    let left = env.browsers_owned_by(&format!("-p{host_pid}s"));
    assert!(
        left.is_empty(),
        "browsers of the killed host still alive: {left:?}"
    );
}

/// The run is `interrupted` with a status consistent with its log, which kept every line
/// written before the kill, and its partial recording is sealed locally.
async fn assert_interrupted(
    handle: &OrchestratorHandle,
    env: &TestEnv,
    site: &Site,
    run_id: RunId,
    lines_before: &[String],
) {
    let status = handle.status(run_id).await.unwrap().unwrap();
    assert_eq!(status.state, RunState::Interrupted);
    assert_eq!(status.error.as_ref().unwrap().code, ErrorCode::Interrupted);
    assert_eq!(
        env.status_json(run_id),
        serde_json::to_value(&status).unwrap()
    );
    // Every line written before the kill is still there, in order, then the terminal event.
    let after = logged_lines(env, &run_id.to_string());
    assert_eq!(&after[..lines_before.len()], lines_before);
    assert_eq!(after.len(), lines_before.len() + 1);
    let events: Vec<_> = handle.events(run_id, 0).await.unwrap().collect().await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=after.len() as u64).collect::<Vec<_>>());
    let EventKind::Finished { status: terminal } = &events.last().unwrap().kind else {
        panic!("last event is not terminal");
    };
    assert_eq!(**terminal, status);
    assert_eq!(status.last_seq, after.len() as u64);
    // The status agrees with the log: two actions ran, the page was reached.
    assert_eq!(status.action_count, 2);
    assert_eq!(status.last_url.as_deref(), Some(site.url("/").as_str()));
    assert!(status.started_at.is_some());
    // What it recorded before the kill is sealed locally, and the status says so.
    let recording = status.recording.as_ref().expect("the partial recording");
    assert!(!recording.uploaded);
    assert!(recording.local_dir.join("manifest.json").is_file());
    assert!(recording.local_dir.join("report.html").is_file());
    assert!(recording.artifacts >= 3, "{recording:?}"); // 2 screenshots + actions.jsonl + ...
    assert!(status.finalize_errors.iter().any(|e| e.step == "upload"));
}
