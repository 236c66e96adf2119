//! A host killed outright (SIGKILL) leaves runs mid-flight. Its Chromium processes die with it
//! (started with a parent-death signal through util-linux's `setpriv`; where that is missing,
//! the next start's sweep kills them by their profile-dir prefix, never by name). The next
//! orchestrator on the same directories marks each such run `interrupted` with a status
//! consistent with its log, keeps every event written before the kill, and removes the stale
//! profiles.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Page, Site, TestEnv, request};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, RunId, RunState};
use tokio::process::Command;

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
    let config_path = env.dir.path().join("config.toml");
    let top_level = format!("max_concurrent_runs = {RUNS}\n");
    std::fs::write(&config_path, env.config_toml(&top_level)).unwrap();
    // Each run lands on the page, then waits a minute for an element that never comes.
    let long_run = serde_json::to_string(&request(
        r##"{"driver": {"type": "script", "steps": [
               {"action": "goto", "url": "{base}/"},
               {"action": "extract", "selector": "p"},
               {"action": "wait_for", "selector": "#never", "timeout_ms": 60000}]},
             "limits": {"timeout_seconds": 120},
             "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        &site,
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
    let mut host = command.spawn().unwrap();

    // Wait until every run is inside its long wait: two action events logged each.
    let deadline = Instant::now() + Duration::from_secs(60);
    let run_ids: Vec<String> = loop {
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
                logged_lines(&env, id)
                    .iter()
                    .filter(|l| l.contains("\"type\":\"action\""))
                    .count()
                    >= 2
            })
            .count();
        if ids.len() == RUNS && busy == RUNS {
            break ids;
        }
        assert!(Instant::now() < deadline, "runs did not reach their wait");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let before: Vec<Vec<String>> = run_ids.iter().map(|id| logged_lines(&env, id)).collect();
    let browsers = env.browsers();
    assert!(!browsers.is_empty(), "the runs' browsers should be alive");

    let host_pid = host.id().unwrap();
    host.kill().await.unwrap(); // SIGKILL, by the pid we started
    host.wait().await.unwrap();
    let dies_with_host = std::path::Path::new("/usr/bin/setpriv").is_file();
    if dies_with_host {
        // The warm pool and the runs' browsers end with the host that started them.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !env.browsers().is_empty() {
            assert!(
                Instant::now() < deadline,
                "browsers outlived their SIGKILLed host: {:?}",
                env.browsers()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        assert!(!env.browsers().is_empty(), "expected orphans after SIGKILL");
    }

    // What the dead host left: each status written at its last state change, `running`.
    for id in &run_ids {
        let status = env.status_json(id.parse().unwrap());
        assert_eq!(status["state"], "running", "{status}");
    }

    let orchestrator = env.start().await;
    let recovery = orchestrator.recovery().clone();
    let mut interrupted: Vec<String> = recovery.interrupted.iter().map(RunId::to_string).collect();
    interrupted.sort();
    let mut expected = run_ids.clone();
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
    let owner_tag = format!("-p{host_pid}s");
    let left: Vec<u32> = env
        .browsers()
        .into_iter()
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&owner_tag)
        })
        .collect();
    assert!(
        left.is_empty(),
        "browsers of the killed host still alive: {left:?}"
    );

    let handle = orchestrator.handle();
    for (id, lines_before) in run_ids.iter().zip(&before) {
        let run_id: RunId = id.parse().unwrap();
        let status = handle.status(run_id).await.unwrap().unwrap();
        assert_eq!(status.state, RunState::Interrupted);
        assert_eq!(status.error.as_ref().unwrap().code, ErrorCode::Interrupted);
        assert_eq!(
            env.status_json(run_id),
            serde_json::to_value(&status).unwrap()
        );
        // Every line written before the kill is still there, in order, then the terminal event.
        let after = logged_lines(&env, id);
        assert_eq!(&after[..lines_before.len()], &lines_before[..]);
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
    h.finish().await;
}
