//! A run past its deadline ends `timed_out` with code TIMEOUT, even mid-action.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Page};
use pilothouse::{ErrorCode, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_past_its_deadline_times_out() {
    let h = Harness::new(vec![("/", Page::Html("<title>x</title>".into()))])
        .start()
        .await;
    let run_id = h
        .submit_json(
            r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "wait_for", "selector": "#never", "timeout_ms": 60000}]},
                 "limits": {"timeout_seconds": 2},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    let started = Instant::now();
    let status = h.wait(run_id).await;
    let took = started.elapsed();
    assert_eq!(status.state, RunState::TimedOut, "{status:?}");
    assert_eq!(status.error.unwrap().code, ErrorCode::Timeout);
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(h.env.status_json(run_id)["state"], "timed_out");
    h.finish().await;
}
