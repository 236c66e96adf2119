//! Cancel during a long `wait_for` ends the run `cancelled` within a second, and its browser —
//! its own process (`isolation = "process"`), or its context in the warm pool — is gone by the
//! time the terminal event arrives.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Page, Site, TestEnv};
use futures::StreamExt;
use pilothouse::{CancelAck, ErrorCode, EventKind, Isolation, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_a_run_with_its_own_browser_within_a_second() {
    cancel_during_wait_for(Isolation::Process).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_a_run_in_a_pooled_context_within_a_second() {
    cancel_during_wait_for(Isolation::Context).await;
}

/// True while the run's browser lives: its own process, or a pool page on the test's site.
async fn run_browser_alive(env: &TestEnv, isolation: Isolation, site: &Site) -> bool {
    match isolation {
        Isolation::Process => !env.run_browsers().is_empty(),
        Isolation::Context => {
            let base = format!("http://{}/", site.addr);
            let urls = common::devtools::pool_page_urls(env).await;
            urls.iter().any(|u| u.starts_with(&base))
        }
    }
}

async fn cancel_during_wait_for(isolation: Isolation) {
    let h = Harness::new(vec![(
        "/",
        Page::Html("<title>x</title><p>waiting</p>".into()),
    )])
    .config(|c| c.browser.isolation = isolation)
    .start()
    .await;
    let (env, site, handle) = (&h.env, &h.site, &h.handle);
    let run_id = h
        .submit_json(
            r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "wait_for", "selector": "#never", "timeout_ms": 60000}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    // The goto's action event: the wait_for is dispatched right after it.
    let mut events = h.events_past_step(run_id, 1).await;
    assert!(
        run_browser_alive(env, isolation, site).await,
        "the run's browser is running"
    );
    let asked = Instant::now();
    assert_eq!(handle.cancel(run_id).await.unwrap(), CancelAck::Cancelling);
    let mut terminal = None;
    while let Some(event) = events.next().await {
        if let EventKind::Finished { status } = event.kind {
            terminal = Some(*status);
        }
    }
    let took = asked.elapsed();
    let status = terminal.expect("terminal event");
    eprintln!("cancel to terminal event: {took:?}");
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert_eq!(status.state, RunState::Cancelled);
    assert_eq!(status.error.unwrap().code, ErrorCode::Cancelled);
    assert!(
        !run_browser_alive(env, isolation, site).await,
        "browser still alive at the terminal event"
    );
    assert_eq!(env.status_json(run_id)["state"], "cancelled");

    // Cancelling again is harmless.
    assert_eq!(
        handle.cancel(run_id).await.unwrap(),
        CancelAck::AlreadyFinished
    );
    h.finish().await;
}
