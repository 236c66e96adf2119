//! Storage that fails mid-run (a full disk, injected through the `RunStore` trait) never loses
//! what was already durable: the run still finalizes, the failures are named in
//! `finalize_errors`, earlier events and statuses stay intact, and a failed commit is completed
//! from the logged terminal event at the next start.

mod common;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use common::{Page, Site, TestEnv, request};
use futures::StreamExt;
use pilothouse::{
    DirStore, LogWriter, Orchestrator, RunEvent, RunId, RunState, RunStatus, RunStore,
};

/// A directory store that fails on cue.
#[derive(Debug)]
struct FaultyStore {
    inner: DirStore,
    /// Status writes of these states fail.
    fail_states: Vec<RunState>,
    /// Event appends numbered in this range (1-based, per store) fail.
    fail_appends: std::ops::RangeInclusive<u32>,
    appends: Arc<AtomicU32>,
    failed_a_status: AtomicBool,
}

fn disk_full() -> io::Error {
    io::Error::other("No space left on device (injected)")
}

impl RunStore for FaultyStore {
    fn create_run(&self, run_id: RunId) -> io::Result<PathBuf> {
        self.inner.create_run(run_id)
    }
    fn write_status(&self, status: &RunStatus) -> io::Result<()> {
        if self.fail_states.contains(&status.state) {
            self.failed_a_status.store(true, Ordering::SeqCst);
            return Err(disk_full());
        }
        self.inner.write_status(status)
    }
    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        self.inner.load_status(run_id)
    }
    fn open_log(&self, run_id: RunId) -> io::Result<Box<dyn LogWriter>> {
        Ok(Box::new(FaultyLog {
            inner: self.inner.open_log(run_id)?,
            fail: self.fail_appends.clone(),
            appends: self.appends.clone(),
        }))
    }
    fn load_events(&self, run_id: RunId) -> Vec<RunEvent> {
        self.inner.load_events(run_id)
    }
    fn run_ids(&self) -> Vec<RunId> {
        self.inner.run_ids()
    }
}

#[derive(Debug)]
struct FaultyLog {
    inner: Box<dyn LogWriter>,
    fail: std::ops::RangeInclusive<u32>,
    appends: Arc<AtomicU32>,
}

impl LogWriter for FaultyLog {
    fn append(&mut self, line: &[u8]) -> io::Result<()> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail.contains(&n) {
            return Err(disk_full());
        }
        self.inner.append(line)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

const SCRIPT: &str = r##"{"driver": {"type": "script", "steps": [
       {"action": "goto", "url": "{base}/"},
       {"action": "extract", "selector": "h1", "store_as": "h"},
       {"action": "evaluate", "script": "1 + 1"}]},
     "recording": {"screenshots": false},
     "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##;

fn site_pages() -> Vec<(&'static str, Page)> {
    vec![("/", Page::Html("<title>T</title><h1>kept</h1>".into()))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_appends_and_state_writes_are_recorded_and_the_run_still_completes() {
    let site = Site::serve(site_pages()).await;
    let env = TestEnv::new();
    let store = Arc::new(FaultyStore {
        inner: DirStore::new(env.runs_dir()),
        fail_states: vec![RunState::Running],
        fail_appends: 4..=5,
        appends: Arc::default(),
        failed_a_status: AtomicBool::new(false),
    });
    let orchestrator = Orchestrator::start_with_store(env.config(), store.clone())
        .await
        .unwrap();
    let handle = orchestrator.handle();
    let run_id = handle.submit(request(SCRIPT, &site)).await.unwrap();
    let status = handle.wait(run_id).await.unwrap();

    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.data["h"], "kept");
    let steps: Vec<&str> = status
        .finalize_errors
        .iter()
        .map(|e| e.step.as_str())
        .collect();
    assert!(steps.contains(&"status"), "{:?}", status.finalize_errors);
    assert!(steps.contains(&"event_log"), "{:?}", status.finalize_errors);
    let event_error = status
        .finalize_errors
        .iter()
        .find(|e| e.step == "event_log")
        .unwrap();
    assert!(
        event_error.message.contains("2 event(s)"),
        "{event_error:?}"
    );
    assert!(store.failed_a_status.load(Ordering::SeqCst));

    // Subscribers saw every event; the log holds all but the two that hit the full disk, and
    // each line it holds is the event as published.
    let live: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    assert_eq!(live.len() as u64, status.last_seq);
    let stored = DirStore::new(env.runs_dir()).load_events(run_id);
    assert_eq!(stored.len(), live.len() - 2);
    let expected: Vec<&RunEvent> = live.iter().filter(|e| !(4..=5).contains(&e.seq)).collect();
    assert_eq!(stored.iter().collect::<Vec<_>>(), expected);
    // The committed status is on disk.
    assert_eq!(
        env.status_json(run_id),
        serde_json::to_value(&status).unwrap()
    );
    orchestrator.shutdown(Duration::from_secs(5)).await;
    env.assert_no_browsers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_keeps_the_last_durable_status_and_is_completed_at_restart() {
    let site = Site::serve(site_pages()).await;
    let env = TestEnv::new();
    let store = Arc::new(FaultyStore {
        inner: DirStore::new(env.runs_dir()),
        fail_states: vec![RunState::Completed],
        fail_appends: 0..=0,
        appends: Arc::default(),
        failed_a_status: AtomicBool::new(false),
    });
    let orchestrator = Orchestrator::start_with_store(env.config(), store)
        .await
        .unwrap();
    let handle = orchestrator.handle();
    let run_id = handle.submit(request(SCRIPT, &site)).await.unwrap();
    let status = handle.wait(run_id).await.unwrap();
    assert_eq!(status.state, RunState::Completed);
    // The terminal event went out before the status write failed; the host still learns of it.
    let now = handle.status(run_id).await.unwrap().unwrap();
    let commit_error = now.finalize_errors.iter().find(|e| e.step == "status");
    assert!(
        commit_error.is_some_and(|e| e.message.contains("No space left")),
        "{now:?}"
    );
    // On disk: the last durable status, whole (atomic writes never tear).
    assert_eq!(env.status_json(run_id)["state"], "running");
    orchestrator.shutdown(Duration::from_secs(5)).await;

    // A healthy store at the next start completes the commit from the logged terminal event.
    let orchestrator = env.start().await;
    assert_eq!(orchestrator.recovery().completed_commits, vec![run_id]);
    assert!(orchestrator.recovery().interrupted.is_empty());
    let recovered = orchestrator.handle().status(run_id).await.unwrap().unwrap();
    assert_eq!(recovered.state, RunState::Completed);
    assert_eq!(recovered.data["h"], "kept");
    assert_eq!(env.status_json(run_id)["state"], "completed");
    orchestrator.shutdown(Duration::from_secs(5)).await;
    env.assert_no_browsers().await;
}
