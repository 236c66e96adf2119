//! A browser killed from outside mid-action fails the run with BROWSER_CRASHED promptly, the
//! orchestrator keeps serving, and no helper process of the dead browser survives
//! (`isolation = "process"`: the run's own Chromium).

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Page};
use pilothouse::{ErrorCode, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_browser_fails_the_run_with_browser_crashed() {
    // A run's own Chromium; the pool's are killed in pool_isolates_runs_and_survives_crashes.rs.
    let h = Harness::new(vec![("/", Page::Html("<title>x</title>".into()))])
        .config(|c| c.browser.isolation = pilothouse::Isolation::Process)
        .start()
        .await;
    let json = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "wait_for", "selector": "#never", "timeout_ms": 60000}]},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##;
    let run_id = h.submit_json(json).await;
    h.reach_step(run_id, 1).await;
    let pid = h.env.run_main_browser();
    let killed = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = h.wait(run_id).await;
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
    h.env.assert_no_run_browsers(&h.handle).await;

    // The orchestrator is unaffected: the next run completes.
    let (_, ok) = h
        .run_json(
            r##"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "{base}/"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    assert_eq!(ok.state, RunState::Completed);
    h.finish().await;
}
