//! Admission control: with `max_concurrent_runs = 2`, five runs never overlap more than two at a
//! time and all complete in FIFO order; past `queue_capacity`, `submit` answers `QueueFull` at once.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Harness, Page, request};
use futures::StreamExt;
use pilothouse::{EventKind, RunState, SubmitError};

const DELAYED: &str = r#"<!doctype html><title>d</title>
<script>setTimeout(() => { const p = document.createElement('p'); p.id = 'ready';
p.textContent = 'ready'; document.body.appendChild(p); }, 300);</script>"#;

fn run_json() -> &'static str {
    r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "wait_for", "selector": "#ready"},
           {"action": "extract", "selector": "#ready", "store_as": "r"}]},
         "limits": {"action_timeout_ms": 20000, "navigation_timeout_ms": 20000},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_run_at_once_and_all_five_complete_in_order() {
    let h = Harness::new(vec![("/", Page::Html(DELAYED.into()))])
        .config(|c| {
            c.max_concurrent_runs = 2;
            c.queue_capacity = 10;
        })
        .start()
        .await;
    let (env, handle) = (&h.env, &h.handle);
    let mut firehose = handle.subscribe_all().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(h.submit_json(run_json()).await);
    }

    let mut running = HashSet::new();
    let mut max_running = 0;
    let mut max_browsers = 0;
    let mut start_order = Vec::new();
    let mut finished = 0;
    while finished < 5 {
        let event = tokio::time::timeout(Duration::from_secs(60), firehose.next())
            .await
            .expect("runs make progress")
            .expect("firehose open");
        match &event.kind {
            EventKind::State {
                state: RunState::Starting,
            } => {
                running.insert(event.run_id);
                start_order.push(event.run_id);
            }
            EventKind::Finished { status } => {
                assert_eq!(status.state, RunState::Completed, "{status:?}");
                running.remove(&event.run_id);
                finished += 1;
            }
            _ => {}
        }
        max_running = max_running.max(running.len());
        max_browsers = max_browsers.max(env.browsers().len());
    }
    assert_eq!(
        max_running, 2,
        "runs overlapped beyond the limit or never in parallel"
    );
    assert!(max_browsers >= 1);
    assert_eq!(start_order, ids, "queued runs start in FIFO order");
    for id in &ids {
        let status = handle.status(*id).await.unwrap().unwrap();
        assert_eq!(status.state, RunState::Completed);
        assert_eq!(status.data["r"], "ready");
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_queue_full_and_shutdown_cancels_the_queue() {
    let h = Harness::new(vec![("/", Page::Html(DELAYED.into()))])
        .config(|c| {
            c.max_concurrent_runs = 1;
            c.queue_capacity = 2;
        })
        .start()
        .await;
    let running = h.submit_json(run_json()).await;
    let queued_a = h.submit_json(run_json()).await;
    let queued_b = h.submit_json(run_json()).await;
    let refused = h.handle.submit(h.request(run_json())).await;
    match refused {
        Err(SubmitError::QueueFull {
            running: 1,
            queued: 2,
            capacity: 2,
        }) => {}
        other => panic!("expected QueueFull, got {other:?}"),
    }
    assert_eq!(
        h.handle.status(queued_a).await.unwrap().unwrap().state,
        RunState::Queued
    );

    // Cancelling a queued run frees its place at once.
    h.handle.cancel(queued_b).await.unwrap();
    let status = h.wait(queued_b).await;
    assert_eq!(status.state, RunState::Cancelled);
    assert_eq!(status.action_count, 0);

    let Harness {
        site,
        env,
        orchestrator,
        handle,
        ..
    } = h;
    let report = orchestrator.shutdown(Duration::from_secs(30)).await;
    assert_eq!(
        report.cancelled, 1,
        "the still-queued run was cancelled: {report:?}"
    );
    assert_eq!(env.status_json(running)["state"], "completed");
    assert_eq!(env.status_json(queued_a)["state"], "cancelled");
    env.assert_no_browsers().await;
    // After shutdown nothing is admitted.
    let after = handle.submit(request(run_json(), &site)).await;
    assert!(matches!(after, Err(SubmitError::Unavailable)), "{after:?}");
}
