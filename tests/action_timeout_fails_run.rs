//! A selector that never appears fails the run with ACTION_FAILED after its timeout, and the
//! failure is persisted in `status.json`.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Page};
use pilothouse::{ErrorCode, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_selector_fails_with_action_failed_after_its_timeout() {
    let h = Harness::new(vec![(
        "/",
        Page::Html("<title>x</title><p>nothing here</p>".into()),
    )])
    .start()
    .await;
    let run_id = h
        .submit_json(
            r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "wait_for", "selector": "#never", "timeout_ms": 800},
                   {"action": "screenshot"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    let started = Instant::now();
    let status = h.wait(run_id).await;
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.clone().unwrap();
    assert_eq!(error.code, ErrorCode::ActionFailed);
    assert!(
        error.message.starts_with("step 2 (wait_for)"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("timed out after 800 ms"),
        "{}",
        error.message
    );
    assert_eq!(
        status.action_count, 2,
        "the screenshot after the failure never ran"
    );

    let on_disk = h.env.status_json(run_id);
    assert_eq!(on_disk["state"], "failed");
    assert_eq!(on_disk["error"]["code"], "ACTION_FAILED");
    assert_eq!(on_disk["error"]["details"]["step"], 2);

    // A click on a missing element fails the same way, bounded by the action timeout.
    let (_, status) = h
        .run_json(
            r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "click", "selector": "#absent"}]},
                 "limits": {"action_timeout_ms": 500},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    assert_eq!(status.error.unwrap().code, ErrorCode::ActionFailed);

    h.finish().await;
}
