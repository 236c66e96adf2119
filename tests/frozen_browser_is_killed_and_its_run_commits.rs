//! A browser that stops answering (its main process frozen with SIGSTOP mid-run) holds neither
//! its run nor its slot: the action fails at its bound, the final capture and the graceful
//! close run out of time, the session kills the process group, the run commits with the close
//! problem named, no process is left, and the next run gets the (only) slot. The same with the
//! run in a pooled context: the frozen pooled browser is found unresponsive, killed and
//! replaced, and the next run completes on its replacement.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Page, eventually};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, Isolation, RunId, RunState, RunStatus};

const ALLOW_LOCAL: &str =
    r#""guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_browser_is_killed_and_its_run_still_commits_and_frees_its_slot() {
    frozen(Isolation::Process).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_pooled_browser_is_replaced_and_its_run_still_commits() {
    frozen(Isolation::Context).await;
}

async fn frozen(isolation: Isolation) {
    let h = Harness::new(vec![("/", Page::Html("<title>x</title><p>hi</p>".into()))])
        .config(|c| {
            c.max_concurrent_runs = 1;
            c.timeouts.close_ms = 1_000;
            // The frozen `wait_for` fails at its outer bound: its own 1 s plus a navigation's.
            c.defaults.navigation_timeout_ms = 5_000;
            c.browser.isolation = isolation;
            c.browser.pool_processes = 1;
        })
        .start()
        .await;
    let json = format!(
        r##"{{"driver": {{"type": "script", "steps": [
               {{"action": "goto", "url": "{{base}}/"}},
               {{"action": "wait_for", "selector": "#never", "timeout_ms": 1000}}]}},
             {ALLOW_LOCAL}}}"##
    );
    let run_id = h.submit_json(&json).await;
    let pid = freeze_once_the_page_loaded(&h, run_id, isolation).await;
    let frozen = Instant::now();

    let status = h.wait(run_id).await;
    let took = frozen.elapsed();
    assert_eq!(status.state, RunState::Failed, "{status:?}");
    assert_eq!(
        status.error.as_ref().map(|e| e.code),
        Some(ErrorCode::ActionFailed),
        "{status:?}"
    );
    assert_close_problem(isolation, &status);
    // The action's bound (6 s), a step screenshot and the final capture (1 s each at most),
    // the graceful close (1 s) and the kill: ≈ 9 s, where nothing bounded would wait forever.
    assert!(took < Duration::from_secs(25), "committed after {took:?}");
    assert_eq!(h.env.status_json(run_id)["state"], "failed");
    h.env.assert_no_run_browsers(&h.handle).await;
    if isolation == Isolation::Context {
        // The frozen browser is killed and replaced; only the replacement is left.
        eventually(
            Duration::from_secs(10),
            "the frozen pooled browser is gone",
            async || !h.env.pool_main_processes().contains(&pid),
        )
        .await;
    }
    assert_the_next_run_gets_the_slot(&h, isolation).await;
    h.finish().await;
}

/// Waits for the first step (the page loaded), then freezes the run's main browser process
/// with SIGSTOP; its pid.
async fn freeze_once_the_page_loaded(h: &Harness, run_id: RunId, isolation: Isolation) -> u32 {
    let mut events = h.handle.events(run_id, 0).await.unwrap();
    while let Some(event) = events.next().await {
        if let EventKind::Action {
            step: 1, success, ..
        } = &event.kind
        {
            assert!(success, "the page did not load: {event:?}");
            break;
        }
    }
    let pid = match isolation {
        Isolation::Process => h.env.run_main_browser(),
        Isolation::Context => h.env.pool_main_processes()[0],
    };
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    pid
}

/// The run names the close that ran out of time.
fn assert_close_problem(isolation: Isolation, status: &RunStatus) {
    let close = status
        .finalize_errors
        .iter()
        .find(|e| e.step == "close_browser");
    match isolation {
        Isolation::Process => {
            let close = close.unwrap_or_else(|| panic!("no close_browser problem: {status:?}"));
            assert!(
                close.message.contains("did not exit within 1000 ms"),
                "{}",
                close.message
            );
        }
        // Disposing the context times out — unless the pool found the browser frozen and
        // killed it first, which ends the context with it.
        Isolation::Context => {
            if let Some(close) = close {
                assert!(close.message.contains("timed out"), "{}", close.message);
            }
        }
    }
}

/// One slot: this run can only start once the frozen run's slot was freed.
async fn assert_the_next_run_gets_the_slot(h: &Harness, isolation: Isolation) {
    let next = format!(
        r#"{{"driver": {{"type": "script", "steps": [{{"action": "goto", "url": "{{base}}/"}}]}},
             "recording": {{"screenshots": false, "final_dom": false}},
             {ALLOW_LOCAL}}}"#
    );
    let ok = h.submit_json(&next).await;
    let status = tokio::time::timeout(Duration::from_secs(30), h.handle.wait(ok))
        .await
        .expect("the next run never finished: the slot was not freed")
        .unwrap();
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    if isolation == Isolation::Context {
        let pool = h.handle.stats().await.unwrap().pool.unwrap();
        assert_eq!((pool.crashed, pool.processes), (1, 1), "{pool:?}");
    }
}
