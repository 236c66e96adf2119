//! A browser killed from outside mid-action fails the run with BROWSER_CRASHED promptly, the
//! orchestrator keeps serving, and no helper process of the dead browser survives
//! (`isolation = "process"`: the run's own Chromium).

mod common;

use std::time::{Duration, Instant};

use common::{Page, Site, TestEnv, request};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, RunState};

fn main_browser_pid(env: &TestEnv) -> u32 {
    env.run_browsers()
        .into_iter()
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&cmdline).contains("--type=")
        })
        .expect("the run's main Chromium process")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_browser_fails_the_run_with_browser_crashed() {
    let site = Site::serve(vec![("/", Page::Html("<title>x</title>".into()))]).await;
    let env = TestEnv::new();
    // A run's own Chromium; the pool's are killed in pool_isolates_runs_and_survives_crashes.rs.
    let mut config = env.config();
    config.browser.isolation = pilothouse::Isolation::Process;
    let orchestrator = env.start_with(config).await;
    let handle = orchestrator.handle();
    let json = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "wait_for", "selector": "#never", "timeout_ms": 60000}]},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##;
    let run_id = handle.submit(request(json, &site)).await.unwrap();
    let mut events = handle.events(run_id, 0).await.unwrap();
    while let Some(event) = events.next().await {
        if matches!(event.kind, EventKind::Action { step: 1, .. }) {
            break;
        }
    }
    let pid = main_browser_pid(&env);
    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = handle.wait(run_id).await.unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "crash noticed after {:?}",
        killed.elapsed()
    );
    assert_eq!(status.state, RunState::Failed, "{status:?}");
    assert_eq!(
        status.error.clone().unwrap().code,
        ErrorCode::BrowserCrashed,
        "{:?}",
        status.error
    );
    env.assert_no_run_browsers(&handle).await;

    // The orchestrator is unaffected: the next run completes.
    let ok = handle
        .submit(request(
            r##"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "{base}/"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
            &site,
        ))
        .await
        .unwrap();
    assert_eq!(handle.wait(ok).await.unwrap().state, RunState::Completed);
    orchestrator.shutdown(Duration::from_secs(5)).await;
    env.assert_no_browsers().await;
}
