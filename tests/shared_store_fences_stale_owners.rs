//! The PostgreSQL store's own guarantees, through `PgStore` with no engine around it: a node past
//! its lease is fenced out (its status and event writes are refused, and it is told), its run
//! ends as the surviving node's reaper decided — one terminal event after the last durable one;
//! a queued run cancels at once; the queue refuses past its capacity; and a run that never
//! acted goes back to the queue when `requeue_unstarted` is set, to be claimed again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::eventually;
use common::postgres::TestDb;
use pilothouse::{
    EnqueueError, ErrorCode, NewRun, PgStore, RunEvent, RunId, RunRequest, RunState, RunStatus,
    RunStore, SharedCancel, SharedRuns, StoreBackend, StoreConfig,
};

/// A store for node `name` whose own lease lasts minutes (tests expire it by hand), with a
/// fast reaper.
async fn node(
    db: &TestDb,
    name: &str,
    requeue_unstarted: bool,
) -> (Arc<PgStore>, tempfile::TempDir) {
    let config = StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(db.url.clone()),
        node_id: Some(name.into()),
        heartbeat_ms: 60_000,
        self_fence_ms: 120_000,
        lease_ms: 180_000,
        reaper_ms: 100,
        requeue_unstarted,
        ..StoreConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = PgStore::connect(&config, dir.path().to_owned(), 2)
        .await
        .unwrap();
    (store, dir)
}

fn new_run(capacity: usize) -> NewRun {
    let run_id = RunId::new();
    let request = RunRequest::from_json(
        r#"{"driver": {"type": "script", "steps": [{"action": "evaluate", "script": "1"}]}}"#,
    )
    .unwrap();
    NewRun {
        run_id,
        request,
        status: RunStatus::new_queued(run_id, "script", Default::default()),
        capacity,
    }
}

/// The stored events of a run, blocking off the runtime.
async fn events(store: &Arc<PgStore>, run_id: RunId) -> Vec<RunEvent> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.load_events(run_id))
        .await
        .unwrap()
}

async fn status(store: &Arc<PgStore>, run_id: RunId) -> RunStatus {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.load_status(run_id).unwrap())
        .await
        .unwrap()
}

/// Ends `node`'s lease now, as if it had stopped renewing long ago.
async fn expire(db: &TestDb, node: &str) {
    sqlx::query("UPDATE nodes SET lease_until = now() - interval '1 second' WHERE node_id = $1")
        .bind(node)
        .execute(&db.pool().await)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_past_its_lease_is_fenced_out_and_its_run_ends_as_the_survivor_decided() {
    let db = TestDb::new().await;
    let (stale, _d1) = node(&db, "stale", false).await;
    let (survivor, _d2) = node(&db, "survivor", false).await;
    let mut fenced = stale.fenced().expect("the fence receiver, taken once");
    let run = new_run(10);
    let run_id = run.run_id;
    let store = stale.clone();
    tokio::task::spawn_blocking(move || store.enqueue(run).unwrap())
        .await
        .unwrap();
    let log = claim_and_write(&stale, run_id).await;

    expire(&db, "stale").await;
    let settled = eventually(
        Duration::from_secs(10),
        "the survivor settles the run",
        || {
            let survivor = survivor.clone();
            async move {
                let status = status(&survivor, run_id).await;
                status.state.is_terminal().then_some(status)
            }
        },
    )
    .await;
    assert_eq!(settled.state, RunState::Interrupted);
    assert_eq!(settled.error.as_ref().unwrap().code, ErrorCode::NodeLost);

    assert_late_writes_refused(&stale, log, &settled, &mut fenced).await;

    let stored = events(&survivor, run_id).await;
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3],
        "queued, the owner's event, the survivor's terminal event"
    );
    assert!(stored[2].is_terminal());
    assert_eq!(status(&survivor, run_id).await.state, RunState::Interrupted);
    assert_eq!(
        status(&stale, run_id).await,
        status(&survivor, run_id).await
    );
    stale.close().await;
    survivor.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_runs_cancel_at_once_the_queue_has_a_bound_and_unstarted_runs_requeue() {
    let db = TestDb::new().await;
    let (a, _d1) = node(&db, "a", true).await;
    let (b, _d2) = node(&db, "b", true).await;
    let (first_id, second_id) = fill_queue(&a).await;

    assert_eq!(
        b.cancel(first_id).await.unwrap(),
        SharedCancel::CancelledQueued
    );
    assert_eq!(
        a.cancel(first_id).await.unwrap(),
        SharedCancel::AlreadyFinished
    );
    assert_eq!(
        a.cancel(RunId::new()).await.unwrap(),
        SharedCancel::NotFound
    );
    assert_eq!(status(&a, first_id).await.state, RunState::Cancelled);
    let kinds: Vec<bool> = events(&a, first_id)
        .await
        .iter()
        .map(RunEvent::is_terminal)
        .collect();
    assert_eq!(kinds, vec![false, true], "queued, then the terminal event");

    // `b` claims the second run and is lost before it acts: `a` puts it back in the queue.
    let claimed = b.claim(1).await.unwrap();
    assert_eq!(claimed[0].run_id, second_id);
    expire(&db, "b").await;
    eventually(Duration::from_secs(10), "the run is queued again", || {
        let a = a.clone();
        async move { (status(&a, second_id).await.state == RunState::Queued).then_some(()) }
    })
    .await;
    let again = a.claim(1).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].run_id, again[0].epoch),
        (second_id, 3),
        "claimed under a new epoch"
    );
    let seqs: Vec<u64> = again[0].events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2],
        "queued, then the note that it was queued again"
    );
    a.close().await;
    b.close().await;
}

/// `stale` claims the run (epoch 1), appends an event and writes a running status; its log.
async fn claim_and_write(stale: &Arc<PgStore>, run_id: RunId) -> Box<dyn pilothouse::LogWriter> {
    let claimed = stale.claim(5).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].run_id, claimed[0].epoch), (run_id, 1));
    let mut running = claimed[0].status.clone();
    running.state = RunState::Running;
    let store = stale.clone();
    tokio::task::spawn_blocking(move || {
        let mut log = store.open_log(run_id).unwrap();
        log.append(&common::log_note(run_id, 2).1).unwrap();
        log.sync().unwrap();
        store.write_status(&running).unwrap();
        log
    })
    .await
    .unwrap()
}

/// The stale owner wakes up and writes: its status write and its events are refused, and the
/// fence receiver names the run.
async fn assert_late_writes_refused(
    stale: &Arc<PgStore>,
    mut log: Box<dyn pilothouse::LogWriter>,
    settled: &RunStatus,
    fenced: &mut tokio::sync::mpsc::UnboundedReceiver<RunId>,
) {
    let run_id = settled.run_id;
    let store = stale.clone();
    let mut late = settled.clone();
    late.state = RunState::Completed;
    let (status_write, event_sync) = tokio::task::spawn_blocking(move || {
        let status_write = store.write_status(&late);
        let _ = log.append(&common::log_note(run_id, 4).1);
        (status_write, log.sync())
    })
    .await
    .unwrap();
    assert!(
        status_write.is_err(),
        "a fenced node's status write is refused"
    );
    assert!(event_sync.is_err(), "a fenced node's events are refused");
    let told = tokio::time::timeout(Duration::from_secs(5), fenced.recv()).await;
    assert_eq!(
        told.ok().flatten(),
        Some(run_id),
        "the fenced node learns it"
    );
}

/// Enqueues two runs on a queue of capacity 2 and checks a third is refused; their ids.
async fn fill_queue(a: &Arc<PgStore>) -> (RunId, RunId) {
    let (first, second) = (new_run(2), new_run(2));
    let (first_id, second_id) = (first.run_id, second.run_id);
    let store = a.clone();
    let refused = tokio::task::spawn_blocking(move || {
        assert_eq!(store.enqueue(first).unwrap(), 0);
        assert_eq!(store.enqueue(second).unwrap(), 1);
        store.enqueue(new_run(2))
    })
    .await
    .unwrap();
    assert!(
        matches!(refused, Err(EnqueueError::QueueFull { queued: 2 })),
        "{refused:?}"
    );
    (first_id, second_id)
}
