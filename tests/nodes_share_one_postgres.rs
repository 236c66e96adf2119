//! Several orchestrators on one PostgreSQL (`[store] backend = "postgres"`), in one process
//! with real Chromium: a run submitted on any node runs exactly once, and any node answers for
//! it — status, list, and its events (live from the owner's log, or tailed from the database
//! elsewhere) — the same, gap-free. A cancel sent to a node that does not run the run reaches
//! its owner. Credentials never reach the database: their run stays on the node that got them.

mod common;

use std::time::{Duration, Instant};

use common::postgres::TestDb;
use common::{FORM_PAGE, Harness, Page};
use futures::StreamExt;
use pilothouse::{
    CancelAck, Config, ListQuery, OrchestratorHandle, RunEvent, RunId, RunState, StoreBackend,
};

const STEPS: &str = r##"{"start_url": "{base}/form",
    "driver": {"type": "script", "steps": [
      {"action": "type", "selector": "#name", "text": "Ada"},
      {"action": "click", "selector": "#submit"},
      {"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000},
      {"action": "extract", "selector": "#out", "store_as": "greeting"}]},
    "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
    "labels": {"suite": "nodes"}}"##;

/// Node `name` on `db`, with test-speed leases and polls.
fn node(db: &TestDb, name: &str) -> impl FnOnce(&mut Config) {
    let url = db.url.clone();
    let name = name.to_owned();
    move |config| {
        config.max_concurrent_runs = 2;
        let store = &mut config.store;
        store.backend = StoreBackend::Postgres;
        store.url = Some(url);
        store.node_id = Some(name);
        store.heartbeat_ms = 300;
        store.self_fence_ms = 3_000;
        store.lease_ms = 4_000;
        store.reaper_ms = 300;
        store.poll_ms = 100;
        store.tail_ms = 50;
    }
}

async fn two_nodes(db: &TestDb) -> (Harness, Harness) {
    let pages = || vec![("/form", Page::Html(FORM_PAGE.into()))];
    let a = Harness::new(pages()).config(node(db, "a")).start().await;
    let b = Harness::new(pages()).config(node(db, "b")).start().await;
    (a, b)
}

async fn all_events(handle: &OrchestratorHandle, run_id: RunId) -> Vec<RunEvent> {
    let stream = handle.events(run_id, 0).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), stream.collect())
        .await
        .expect("the run's events end with its terminal event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_submitted_anywhere_run_once_and_read_the_same_everywhere() {
    let db = TestDb::new().await;
    let (a, b) = two_nodes(&db).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let submitter = if i % 2 == 0 { &a } else { &b };
        ids.push(submitter.submit_json(STEPS).await);
    }
    for &run_id in &ids {
        let from_a = all_events(&a.handle, run_id).await;
        let from_b = all_events(&b.handle, run_id).await;
        assert_eq!(
            from_a, from_b,
            "both nodes tell run {run_id}'s events alike"
        );
        let seqs: Vec<u64> = from_a.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=from_a.len() as u64).collect::<Vec<_>>(),
            "gap-free"
        );
        assert!(from_a.last().unwrap().is_terminal());
        assert_eq!(from_a.iter().filter(|e| e.is_terminal()).count(), 1);
        let status_a = a.handle.status(run_id).await.unwrap().unwrap();
        let status_b = b.handle.status(run_id).await.unwrap().unwrap();
        assert_eq!(status_a.state, RunState::Completed, "{status_a:?}");
        assert_eq!(status_a, status_b, "both nodes report the same status");
        assert_eq!(status_a.data["greeting"], "Hello, Ada! 50");
    }
    assert_each_ran_once(&db, &ids).await;
    let page = b.handle.list_page(ListQuery::default()).await.unwrap();
    let mut listed: Vec<RunId> = page.runs.iter().map(|s| s.run_id).collect();
    listed.sort();
    assert_eq!(listed, ids, "any node lists every run, newest first");
    a.finish().await;
    b.finish().await;
}

/// Every run was claimed once (attempt 1) and all its actions carry one epoch.
async fn assert_each_ran_once(db: &TestDb, ids: &[RunId]) {
    let pool = db.pool().await;
    for run_id in ids {
        let (attempt, owner): (i32, Option<String>) =
            sqlx::query_as("SELECT attempt, owner FROM runs WHERE id = $1")
                .bind(run_id.as_uuid())
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(attempt, 1, "run {run_id} was claimed once");
        assert!(matches!(owner.as_deref(), Some("a" | "b")));
        let epochs: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT epoch FROM run_events WHERE run_id = $1 AND kind = 'action'",
        )
        .bind(run_id.as_uuid())
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            epochs,
            vec![1],
            "run {run_id}'s actions come from one epoch"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_sent_to_another_node_stops_the_run_and_credentials_stay_home() {
    let db = TestDb::new().await;
    let (a, b) = two_nodes(&db).await;
    // Credentials pin the run to `a`, the node that received them.
    let run_id = a
        .submit_json(
            r##"{"start_url": "{base}/form",
                "driver": {"type": "script", "steps": [
                  {"action": "type", "selector": "#name", "credential_ref": "pw"},
                  {"action": "wait_for", "selector": "#never", "timeout_ms": 30000}]},
                "credentials": {"pw": "hunter2-in-the-db?"},
                "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
        )
        .await;
    a.reach_step(run_id, 1).await;
    let asked = Instant::now();
    assert_eq!(
        b.handle.cancel(run_id).await.unwrap(),
        CancelAck::Cancelling
    );
    let status = b.handle.wait(run_id).await.unwrap();
    assert_eq!(status.state, RunState::Cancelled, "{status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the owner stopped the run {:?} after another node was asked",
        asked.elapsed()
    );
    // Read once: the owner never answers with the run live after another node saw it end
    // (a read waits out the owner's commit of the final status).
    let owner_says = a.handle.status(run_id).await.unwrap().unwrap();
    assert_eq!(owner_says.state, RunState::Cancelled, "{owner_says:?}");
    let owner: Option<String> = sqlx::query_scalar("SELECT owner FROM runs WHERE id = $1")
        .bind(run_id.as_uuid())
        .fetch_one(&db.pool().await)
        .await
        .unwrap();
    assert_eq!(
        owner.as_deref(),
        Some("a"),
        "a run with credentials runs where they were given"
    );
    assert_secret_absent(&db, "hunter2-in-the-db?").await;
    a.finish().await;
    b.finish().await;
}

/// No row of any table holds `secret`, raw or in the encodings a leak would take.
async fn assert_secret_absent(db: &TestDb, secret: &str) {
    let pool = db.pool().await;
    let dump: Vec<String> = sqlx::query_scalar(
        "SELECT row_to_json(r)::text FROM runs r \
         UNION ALL SELECT row_to_json(e)::text FROM run_events e",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let text = dump.join("\n");
    for (how, encoded) in common::secrets::encodings(secret) {
        assert!(
            !text.contains(&encoded),
            "the database holds the secret {how}: {encoded:?}"
        );
    }
}
