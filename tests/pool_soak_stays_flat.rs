//! A bounded soak through the warm pool: 200 short runs at concurrency 4, with processes
//! recycled every 40 contexts. Every run completes, the orchestrator's open file descriptors
//! and memory stay flat after warm-up, and no browser is left after shutdown.

mod common;

use std::time::Duration;

use common::{Harness, Page, eventually, procs};
use pilothouse::{OrchestratorHandle, RunRequest, RunState};

const RUNS: usize = 200;
const WARM_UP: usize = 40;
const CONCURRENCY: usize = 4;

fn rss_bytes() -> u64 {
    procs::own_rss_bytes().expect("VmRSS in /proc/self/status")
}

/// Runs `count` requests, `CONCURRENCY` at a time, and checks each completed.
async fn run_batch(handle: &OrchestratorHandle, request: &RunRequest, count: usize) {
    let mut pending = Vec::new();
    for _ in 0..count {
        pending.push(handle.submit(request.clone()).await.unwrap());
        if pending.len() == CONCURRENCY {
            for run in pending.drain(..) {
                let status = handle.wait(run).await.unwrap();
                assert_eq!(status.state, RunState::Completed, "{status:?}");
            }
        }
    }
    for run in pending {
        assert_eq!(handle.wait(run).await.unwrap().state, RunState::Completed);
    }
}

/// A pool recycling its processes every 40 contexts, keeping 8 finished runs, recording little.
async fn start_soak() -> Harness {
    Harness::new(vec![(
        "/",
        Page::Html("<title>soak</title><p id='v'>ok</p>".into()),
    )])
    .config(|c| {
        c.max_concurrent_runs = CONCURRENCY;
        c.browser.recycle_after_contexts = 40;
        c.registry.max_finished_runs = 8;
        c.recording.screenshots = false;
        c.recording.report = false;
    })
    .start()
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_runs_leave_nothing_behind() {
    let h = start_soak().await;
    let (env, handle) = (&h.env, &h.handle);
    assert!(handle.pool_warm(Duration::from_secs(10)).await);
    let request = h.request(
        r##"{"driver": {"type": "script", "steps": [
               {"action": "goto", "url": "{base}/"},
               {"action": "extract", "selector": "#v", "store_as": "v"}]},
             "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
    );

    run_batch(handle, &request, WARM_UP).await;
    env.assert_no_run_browsers(handle).await;
    let (fds_warm, rss_warm) = (procs::own_fd_count(), rss_bytes());

    run_batch(handle, &request, RUNS - WARM_UP).await;
    env.assert_no_run_browsers(handle).await;
    let (fds_end, rss_end) = (procs::own_fd_count(), rss_bytes());

    let stats = handle.stats().await.unwrap().pool.unwrap();
    eprintln!(
        "fds {fds_warm} -> {fds_end}; RSS {} -> {} MiB; {stats:?}",
        rss_warm >> 20,
        rss_end >> 20
    );
    assert_eq!(stats.contexts_served, RUNS as u64, "{stats:?}");
    assert!(stats.recycled >= 3, "recycled every 40 contexts: {stats:?}");
    assert_eq!(stats.crashed, 0, "{stats:?}");
    // A recycled process's replacement is up; no retired one lingers once its runs ended.
    eventually(
        Duration::from_secs(5),
        "no retired browser lingers (two pool processes at most)",
        async || {
            let pool = env.pool_main_processes();
            if pool.len() <= 2 { Ok(()) } else { Err(pool) }
        },
    )
    .await;
    assert!(
        fds_end <= fds_warm + 8,
        "file descriptors grew from {fds_warm} to {fds_end}"
    );
    assert!(
        rss_end <= rss_warm + (24 << 20),
        "RSS grew from {} to {} MiB over {} runs",
        rss_warm >> 20,
        rss_end >> 20,
        RUNS - WARM_UP
    );
    h.finish().await;
}
