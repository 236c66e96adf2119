//! Several `pilothouse serve` processes on one PostgreSQL, as a deployment runs them. Runs
//! submitted round-robin over HTTP each end in exactly one terminal state when a node is
//! SIGKILLed mid-run; no run's actions come from two owners; every run's events read the same,
//! gap-free, from either survivor. A node stopped (SIGSTOP) past its lease and resumed is
//! fenced out: its run ends as the survivor decided, nothing follows the terminal event, and
//! its browser closes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::postgres::TestDb;
use common::server::{LOOPBACK, Server, sse_frames};
use common::{FORM_PAGE, Page, Site, TestEnv, eventually};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pilothouse::RunId;
use serde_json::Value;

/// A short run: four actions on the form page.
fn short_run(site: &Site) -> String {
    format!(
        r##"{{"start_url": "{}",
            "driver": {{"type": "script", "steps": [
              {{"action": "type", "selector": "#name", "text": "Ada"}},
              {{"action": "click", "selector": "#submit"}},
              {{"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000}},
              {{"action": "extract", "selector": "#out", "store_as": "greeting"}}]}},
            {LOOPBACK}}}"##,
        site.url("/form")
    )
}

/// One node: its own directories, the shared database, test-speed leases.
async fn start_node(db: &TestDb, name: &str) -> (TestEnv, Server) {
    let env = TestEnv::new();
    let store = format!(
        "\n[store]\nbackend = \"postgres\"\nurl = \"{}\"\nnode_id = \"{name}\"\n\
         heartbeat_ms = 300\nself_fence_ms = 3000\nlease_ms = 4000\nreaper_ms = 300\n\
         poll_ms = 100\ntail_ms = 50\n",
        db.url
    );
    let server = Server::start(&env, "max_concurrent_runs = 2\n", &store).await;
    (env, server)
}

fn signal(server: &Server, signal: Signal) {
    let pid = server.child.id().expect("the node is running") as i32;
    kill(Pid::from_raw(pid), signal).unwrap();
}

/// A run's events as one node serves them (SSE, read to the end).
async fn events_from(server: &Server, run_id: RunId) -> Vec<Value> {
    read_events(open_events(server, run_id).await).await
}

/// The run's SSE stream from `server`, subscribed (its headers are in) but not yet read.
async fn open_events(server: &Server, run_id: RunId) -> reqwest::Response {
    let response = server.get(&format!("/runs/{run_id}/events")).await;
    assert_eq!(response.status(), 200);
    response
}

/// Every event of an SSE stream, read until it ends at the terminal event.
async fn read_events(mut response: reqwest::Response) -> Vec<Value> {
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the event stream ends at the terminal event");
    sse_frames(&text)
        .into_iter()
        .filter(|(_, event, _)| event != ":")
        .map(|(_, _, data)| serde_json::from_str(&data).unwrap())
        .collect()
}

/// The run's events are gap-free with one terminal event, last, and read the same from every
/// node in `from`; its status reads the same too. The terminal state.
async fn assert_consistent(from: &[&Server], run_id: RunId) -> String {
    let events = events_from(from[0], run_id).await;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "run {run_id}: gap-free"
    );
    let terminal = events.iter().filter(|e| e["type"] == "finished").count();
    assert_eq!(terminal, 1, "run {run_id}: one terminal event");
    assert_eq!(events.last().unwrap()["type"], "finished");
    let status = from[0].get_json(&format!("/runs/{run_id}"), 200).await;
    for other in &from[1..] {
        assert_eq!(
            events_from(other, run_id).await,
            events,
            "run {run_id}: same events"
        );
        let theirs = other.get_json(&format!("/runs/{run_id}"), 200).await;
        assert_eq!(theirs, status, "run {run_id}: same status");
    }
    status["state"].as_str().unwrap().to_owned()
}

/// No run's actions were written under two epochs, and no run was claimed twice.
async fn assert_one_owner_per_run(db: &TestDb) {
    let pool = db.pool().await;
    let twice: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT run_id FROM run_events WHERE kind = 'action' \
         GROUP BY run_id HAVING count(DISTINCT epoch) > 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(twice.is_empty(), "actions from two owners: {twice:?}");
    let reclaimed: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE attempt > 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reclaimed, 0, "no run was claimed twice");
}

/// Waits until `node` runs at least one run, per the database.
async fn until_running_on(db: &TestDb, node: &str) {
    let pool = db.pool().await;
    eventually(
        Duration::from_secs(60),
        "a run is running on the node",
        async || {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM runs WHERE owner = $1 AND state = 'running'",
            )
            .bind(node)
            .fetch_one(&pool)
            .await
            .unwrap();
            n > 0
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_runs_on_three_nodes_survive_one_node_killed() {
    let db = TestDb::new().await;
    let site = Site::serve(vec![("/form", Page::Html(FORM_PAGE.into()))]).await;
    let mut nodes = Vec::new();
    for name in ["n0", "n1", "n2"] {
        nodes.push(start_node(&db, name).await);
    }
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(nodes[i % 3].1.submit(&short_run(&site)).await);
    }
    until_running_on(&db, "n0").await;
    signal(&nodes[0].1, Signal::SIGKILL);
    let (killed_env, _killed) = nodes.remove(0);
    let survivors = [&nodes[0].1, &nodes[1].1];
    let mut states = BTreeMap::<String, usize>::new();
    for &run_id in &ids {
        survivors[0].wait_terminal(run_id).await;
        *states
            .entry(assert_consistent(&survivors, run_id).await)
            .or_default() += 1;
    }
    assert_eq!(states.values().sum::<usize>(), 60);
    assert!(states["completed"] >= 50, "most runs complete: {states:?}");
    assert!(
        states.get("interrupted") >= Some(&1),
        "the killed node's runs: {states:?}"
    );
    assert_eq!(
        states.len(),
        2,
        "only completed and interrupted: {states:?}"
    );
    assert_one_owner_per_run(&db).await;
    killed_env.assert_no_browsers().await;
    // Every run is over: no run browser and no leased context on a survivor; then each stops
    // and leaves no browser at all. (Polling `/ready` after SIGTERM raced the server's exit.)
    for (env, server) in &mut nodes {
        server.assert_no_run_browsers(env).await;
        server.sigterm();
        server.wait_exit().await;
        env.assert_no_browsers().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_past_its_lease_is_fenced_out_when_it_resumes() {
    let db = TestDb::new().await;
    let site = Site::serve(vec![("/form", Page::Html(FORM_PAGE.into()))]).await;
    let (env_a, a) = start_node(&db, "a").await;
    let (_env_b, b) = start_node(&db, "b").await;
    // Credentials keep the run on `a`; its own Chromium shows when the run lets go of it.
    let request = format!(
        r##"{{"start_url": "{}", "isolation": "process",
            "driver": {{"type": "script", "steps": [
              {{"action": "type", "selector": "#name", "credential_ref": "pw"}},
              {{"action": "wait_for", "selector": "#never", "timeout_ms": 30000}}]}},
            "credentials": {{"pw": "x"}}, {LOOPBACK}}}"##,
        site.url("/form")
    );
    let run_id = a.submit(&request).await;
    a.wait_for(run_id, |s| s["action_count"].as_u64() >= Some(1))
        .await;
    assert!(
        !env_a.run_browsers().is_empty(),
        "the run has its own browser"
    );
    // A tail the owner serves, open across its pause: it must end as the survivor decided.
    let owners_tail = open_events(&a, run_id).await;
    signal(&a, Signal::SIGSTOP);
    let decided = b.wait_terminal(run_id).await;
    assert_eq!(decided["state"], "interrupted", "{decided}");
    assert_eq!(decided["error"]["code"], "NODE_LOST", "{decided}");
    let events = events_from(&b, run_id).await;
    signal(&a, Signal::SIGCONT);
    eventually(
        Duration::from_secs(20),
        "the fenced run's browser closes",
        async || env_a.run_browsers().is_empty(),
    )
    .await;
    assert_eq!(events_from(&b, run_id).await, events);
    assert_eq!(
        read_events(owners_tail).await,
        events,
        "the fenced owner's open tail shows what every node reads, never its own unstored events"
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM run_events WHERE run_id = $1")
        .bind(run_id.as_uuid())
        .fetch_one(&db.pool().await)
        .await
        .unwrap();
    assert_eq!(
        stored as usize,
        events.len(),
        "nothing follows the terminal event"
    );
    assert_eq!(assert_consistent(&[&a, &b], run_id).await, "interrupted");
    assert_recording_kept_home(&env_a, &a, run_id).await;
    a.sigterm();
    b.sigterm();
}

/// The fenced node finalized its lost run (it counts the run, its finalizer's last step) and
/// kept the recording on its own disk: never uploaded where the run's outcome lives now.
async fn assert_recording_kept_home(env: &TestEnv, node: &Server, run_id: RunId) {
    let counted = r#"pilothouse_runs_total{state="interrupted"} 1"#;
    eventually(
        Duration::from_secs(20),
        "the fenced node counts its run as finalized",
        async || {
            let text = node.get("/metrics").await.text().await.unwrap();
            text.lines().any(|line| line == counted)
        },
    )
    .await;
    let run = run_id.to_string();
    assert!(
        env.runs_dir()
            .join(&run)
            .join("recording/manifest.json")
            .is_file(),
        "the fenced node sealed what it recorded, locally"
    );
    assert!(
        !env.recordings_dir().join(&run).exists(),
        "a fenced node uploads nothing for a run it lost"
    );
}
