//! Subscribers that join mid-run, after the end, or from a given seq each receive the run's
//! events exactly once, in seq order, ending with the terminal event.

mod common;

use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState};

const SLOW_REVEAL: &str = r#"<!doctype html><title>Slow</title><p id="a">a</p>
<script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late';
p.textContent = 'late'; document.body.appendChild(p); }, 700);</script>"#;

fn seqs(events: &[RunEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_and_late_subscribers_see_one_to_n_exactly_once() {
    let h = Harness::new(vec![("/slow", Page::Html(SLOW_REVEAL.into()))])
        .start()
        .await;
    let (env, handle) = (&h.env, &h.handle);
    let run_id = h.submit_json(r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/slow"},
                   {"action": "extract", "selector": "#a"},
                   {"action": "wait_for", "selector": "#late", "timeout_ms": 5000},
                   {"action": "extract", "selector": "#late", "store_as": "late"},
                   {"action": "evaluate", "script": "1 + 1"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##).await;

    // Join mid-run: once the first action event exists, the run is busy in its wait.
    let mut first = handle.events(run_id, 0).await.unwrap();
    let mut early = Vec::new();
    while let Some(event) = first.next().await {
        let is_action = matches!(event.kind, EventKind::Action { .. });
        early.push(event);
        if is_action {
            break;
        }
    }
    let mid_after = early.last().unwrap().seq;
    let mid_from_zero = tokio::spawn(collect(handle.clone(), run_id, 0));
    let mid_from_k = tokio::spawn(collect(handle.clone(), run_id, mid_after));
    let rest: Vec<RunEvent> = first.collect().await;
    early.extend(rest);

    let mid_from_zero = mid_from_zero.await.unwrap();
    let mid_from_k = mid_from_k.await.unwrap();
    let n = early.len() as u64;
    assert_eq!(seqs(&early), (1..=n).collect::<Vec<_>>());
    assert_eq!(seqs(&mid_from_zero), (1..=n).collect::<Vec<_>>());
    assert_eq!(seqs(&mid_from_k), (mid_after + 1..=n).collect::<Vec<_>>());
    assert!(early.last().unwrap().is_terminal());
    assert_eq!(early, mid_from_zero, "both subscribers saw the same events");

    // After the end: replay from memory, then from the log on disk, agree with the live view.
    let after_end = collect(handle.clone(), run_id, 0).await;
    assert_eq!(after_end, early);
    let on_disk = env.events_jsonl(run_id);
    assert_eq!(on_disk.len() as u64, n);
    assert_eq!(
        serde_json::to_value(&early).unwrap(),
        serde_json::Value::Array(on_disk)
    );

    let EventKind::Finished { status } = &early.last().unwrap().kind else {
        panic!("last event is not terminal");
    };
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.last_seq, n);
    assert_eq!(status.data["late"], "late");

    h.finish().await;
}

async fn collect(
    handle: pilothouse::OrchestratorHandle,
    run_id: pilothouse::RunId,
    after: u64,
) -> Vec<RunEvent> {
    handle.events(run_id, after).await.unwrap().collect().await
}
