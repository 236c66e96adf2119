//! A run on the PostgreSQL store goes on when the database crashes and restarts under it
//! (`pg_ctl restart -m immediate`, shorter than the self-fence window): its event batches and
//! its final status are retried until they commit, so nothing the owner published is missing
//! from the database, the events stay gap-free, and the run completes.

mod common;

use common::postgres::TestDb;
use common::{Harness, Page};
use pilothouse::{RunEvent, RunState, StoreBackend};

/// Steps of 250 ms each: time for the database to go and come back mid-run.
const STEPS: u64 = 24;

fn slow_steps() -> String {
    let steps: Vec<String> = (1..=STEPS)
        .map(|i| {
            format!(
                r#"{{"action": "evaluate", "script": "new Promise(r => setTimeout(() => r({i}), 250))", "store_as": "last"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"start_url": "{{base}}/", "driver": {{"type": "script", "steps": [{}]}},
            "guardrails": {{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}}}"#,
        steps.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_on_through_a_database_restart_and_loses_no_event() {
    let db = TestDb::own().await;
    let url = db.url.clone();
    let h = Harness::new(vec![("/", Page::Html("<title>t</title>".into()))])
        .config(move |config| {
            let store = &mut config.store;
            store.backend = StoreBackend::Postgres;
            store.url = Some(url);
            store.heartbeat_ms = 300;
            store.self_fence_ms = 8_000;
            store.lease_ms = 10_000;
            store.poll_ms = 100;
        })
        .start()
        .await;
    let run_id = h.submit_json(&slow_steps()).await;
    let live = h.events_past_step(run_id, 3).await;
    db.restart();
    let restarted = chrono::Utc::now();
    let rest: Vec<RunEvent> = futures::StreamExt::collect(live).await;
    let status = h.wait(run_id).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.data["last"], STEPS);
    let after = rest.iter().filter(|e| e.at > restarted).count();
    assert!(
        after > 1,
        "the run went on after the database came back ({after} events)"
    );
    let stored: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT body FROM run_events WHERE run_id = $1 ORDER BY seq")
            .bind(run_id.as_uuid())
            .fetch_all(&db.pool().await)
            .await
            .unwrap();
    let seqs: Vec<u64> = stored.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "gap-free in the database"
    );
    let last = rest.last().expect("events after the restart");
    assert!(last.is_terminal());
    assert_eq!(
        stored.len() as u64,
        last.seq,
        "every published event is in the database"
    );
    let db_status: serde_json::Value = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
        .bind(run_id.as_uuid())
        .fetch_one(&db.pool().await)
        .await
        .unwrap();
    assert_eq!(db_status["state"], "completed");
    h.finish().await;
}
