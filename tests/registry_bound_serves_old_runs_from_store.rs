//! Finished runs past `registry.max_finished_runs` leave memory and are served from the store:
//! status, list, event replay and cancel answer exactly as they did while the run was in memory.

mod common;

use std::time::Duration;

use common::{Harness, Page, eventually};
use futures::StreamExt;
use pilothouse::{CancelAck, RunEvent, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_runs_answer_from_the_store_like_before() {
    let h = Harness::new(vec![("/", Page::Html("<title>B</title><h1>b</h1>".into()))])
        .config(|c| c.registry.max_finished_runs = 2)
        .start()
        .await;
    let handle = &h.handle;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let run_id = h.submit_json(r##"{"driver": {"type": "script", "steps": [
                       {"action": "goto", "url": "{base}/"},
                       {"action": "extract", "selector": "h1", "store_as": "h"}]},
                     "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##).await;
        let events: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
        let status = handle.status(run_id).await.unwrap().unwrap();
        assert_eq!(status.state, RunState::Completed);
        seen.push((run_id, status, events));
    }
    let stats = eventually(
        Duration::from_secs(10),
        "no run is active any more",
        async || {
            let stats = handle.stats().await.unwrap();
            if stats.active == 0 {
                Ok(stats)
            } else {
                Err(stats)
            }
        },
    )
    .await;
    assert_eq!(
        (stats.runs_in_memory, stats.finished_in_memory),
        (2, 2),
        "{stats:?}"
    );

    let listed = handle.list().await.unwrap();
    assert_eq!(listed.len(), 4);
    for (i, (run_id, status, events)) in seen.iter().enumerate() {
        assert_eq!(&listed[i], status, "list entry {i}");
        assert_eq!(handle.status(*run_id).await.unwrap().as_ref(), Some(status));
        let replayed: Vec<RunEvent> = handle.events(*run_id, 0).await.unwrap().collect().await;
        assert_eq!(&replayed, events, "events of run {i}");
        let tail: Vec<RunEvent> = handle.events(*run_id, 3).await.unwrap().collect().await;
        assert_eq!(&tail[..], &events[3..]);
        assert_eq!(handle.cancel(*run_id).await, Ok(CancelAck::AlreadyFinished));
    }
    h.finish().await;
}
