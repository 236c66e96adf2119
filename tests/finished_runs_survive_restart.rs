//! A finished run stays queryable after the orchestrator restarts on the same runs dir: status,
//! list and event replay come from the store. Hosts may also send raw `Command`s themselves.

mod common;

use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{Command, RunEvent, RunState};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_serves_status_list_and_events_after_restart() {
    let h = Harness::new(vec![(
        "/",
        Page::Html("<title>T</title><h1>hi</h1>".into()),
    )])
    .start()
    .await;
    let run_id = h
        .submit_json(
            r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "extract", "selector": "h1", "store_as": "h"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    let live: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;

    let h = h.restart().await;
    let handle = &h.handle;
    // A raw command through the exposed sender.
    let (reply, answer) = oneshot::channel();
    handle
        .sender()
        .send(Command::Status { run_id, reply })
        .await
        .unwrap();
    let status = answer.await.unwrap().expect("run known to the store");
    assert_eq!(status.state, RunState::Completed);
    assert_eq!(status.data["h"], "hi");

    let listed = handle.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.run_id).collect::<Vec<_>>(),
        vec![run_id]
    );
    let replayed: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    assert_eq!(replayed, live);
    let tail: Vec<u64> = handle
        .events(run_id, 3)
        .await
        .unwrap()
        .map(|e| e.seq)
        .collect()
        .await;
    assert_eq!(tail, (4..=live.len() as u64).collect::<Vec<_>>());
    assert!(handle.events(pilothouse::RunId::new(), 0).await.is_err());
    h.finish().await;
}
