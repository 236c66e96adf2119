//! Unit tests of the actor logic with a fake browser: failures inside a run's actors become run
//! outcomes, and the orchestrator keeps serving.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::oneshot;

use super::Engine;
use crate::command::{Command, EngineStats};
use crate::config::Config;
use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, CloseMode, CloseReport, LaunchSpec,
    PageDriver,
};
use crate::request::{Action, RunRequest};
use crate::run::{ErrorCode, RunId, RunState, RunStatus};
use crate::store::DirStore;

mod finalize_panic;
mod wind_down;

/// Launches fake pages: `evaluate` of `"panic"` panics; a 333 px wide viewport fails the launch.
struct FakeLauncher;

struct FakePage;

impl BrowserLauncher for FakeLauncher {
    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'static, Result<Box<dyn PageDriver>, BrowserError>> {
        Box::pin(async move {
            if spec.viewport.width == 333 {
                return Err(BrowserError::Launch {
                    reason: "no display for a 333 px viewport".into(),
                });
            }
            Ok(Box::new(FakePage) as Box<dyn PageDriver>)
        })
    }
}

impl PageDriver for FakePage {
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        _bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>> {
        Box::pin(async move {
            match action {
                Action::Evaluate { script, .. } if script == "panic" => panic!("fake driver bug"),
                Action::Evaluate { script, .. } => Ok(ActionOutput {
                    text: script.clone(),
                    value: Some(Value::String(script.clone())),
                    ..ActionOutput::default()
                }),
                _ => Ok(ActionOutput::default()),
            }
        })
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>> {
        Box::pin(async { Ok(()) })
    }

    fn close(self: Box<Self>, _mode: CloseMode) -> BoxFuture<'static, CloseReport> {
        Box::pin(async {
            CloseReport {
                graceful: true,
                problem: None,
            }
        })
    }

    fn pid(&self) -> Option<u32> {
        None
    }
}

async fn engine(dir: &tempfile::TempDir) -> Engine {
    engine_with(dir, |_| {}).await
}

/// A config on `dir` whose browsers are fakes.
fn test_config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config {
        runs_dir: dir.path().join("runs"),
        profile_root: dir.path().join("profiles"),
        chromium_path: Some("/bin/true".into()),
        ..Config::default()
    };
    config.recording.recordings_dir = dir.path().join("recordings");
    config
}

async fn engine_with(dir: &tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Engine {
    let mut config = test_config(dir);
    adjust(&mut config);
    let store = Arc::new(DirStore::new(config.runs_dir.clone()));
    Engine::start_with(config, store, Arc::new(FakeLauncher))
        .await
        .unwrap()
}

async fn run(engine: &Engine, json: &str) -> RunStatus {
    let request = RunRequest::from_json(json).unwrap();
    let (tx, rx) = oneshot::channel();
    engine
        .sender()
        .send(Command::Submit {
            request: Box::new(request),
            reply: tx,
        })
        .await
        .unwrap();
    let run_id: RunId = rx.await.unwrap().unwrap();
    let (tx, rx) = oneshot::channel();
    engine
        .sender()
        .send(Command::Subscribe {
            run_id,
            after_seq: 0,
            reply: tx,
        })
        .await
        .unwrap();
    let stream = rx.await.unwrap().unwrap().into_stream();
    let events: Vec<_> = futures::StreamExt::collect(stream).await;
    match &events.last().unwrap().kind {
        crate::event::EventKind::Finished { status } => (**status).clone(),
        other => panic!("last event is {other:?}"),
    }
}

const OK: &str = r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"fine","store_as":"v"}]}}"#;

#[tokio::test]
async fn a_panicking_browser_actor_fails_its_run_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let status = run(
        &engine,
        r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"panic"}]}}"#,
    )
    .await;
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::InternalError, "{}", error.message);
    assert!(
        error.message.contains("browser actor failed"),
        "{}",
        error.message
    );
    assert!(engine.is_running());

    let status = run(&engine, OK).await;
    assert_eq!(status.state, RunState::Completed);
    assert_eq!(status.data["v"], "fine");
}

#[tokio::test]
async fn a_failed_launch_is_setup_failed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let status = run(
        &engine,
        r#"{"driver":{"type":"script","steps":[{"action":"screenshot"}]},"viewport":{"width":333,"height":400}}"#,
    )
    .await;
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::SetupFailed);
    assert!(error.message.contains("333 px"), "{}", error.message);
    assert_eq!(status.action_count, 0);
}

async fn ask<T>(engine: &Engine, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> T {
    let (tx, rx) = oneshot::channel();
    engine.sender().send(make(tx)).await.unwrap();
    rx.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_finished_runs_keep_a_hundred_in_memory_and_all_stay_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(&dir, |c| {
        c.registry.max_finished_runs = 100;
        c.max_concurrent_runs = 8;
        c.queue_capacity = 1_000;
    })
    .await;
    let ids = submit_quiet_runs(&engine, 1_000).await;
    for run_id in &ids {
        let subscription = ask(&engine, |reply| Command::Subscribe {
            run_id: *run_id,
            after_seq: 0,
            reply,
        })
        .await
        .unwrap();
        let events: Vec<_> = futures::StreamExt::collect(subscription.into_stream()).await;
        assert!(events.last().unwrap().is_terminal());
    }
    let stats = stats_once_none_active(&engine).await;
    assert_eq!(stats.finished_in_memory, 100, "{stats:?}");
    assert_eq!(stats.runs_in_memory, 100, "{stats:?}");

    let all = ask(&engine, |reply| Command::List { reply }).await;
    assert_eq!(all.len(), 1_000);
    assert!(
        all.iter()
            .all(|s| s.state == RunState::Completed && s.data["v"] == "fine")
    );
    let listed: Vec<RunId> = all.iter().map(|s| s.run_id).collect();
    assert_eq!(listed, ids, "oldest first");
    the_oldest_answers_from_the_store(&engine, ids[0]).await;

    // Pages from the index, newest first, cover every run once.
    let newest_first: Vec<RunId> = ids.iter().rev().copied().collect();
    assert_eq!(every_page_of_the_index(&engine).await, newest_first);
}

/// Submits `n` runs of one evaluate that record nothing; their ids, in order.
async fn submit_quiet_runs(engine: &Engine, n: usize) -> Vec<RunId> {
    let quiet = r#"{"driver":{"type":"script","steps":[{"action":"evaluate","script":"fine","store_as":"v"}]},
        "recording":{"screenshots":false,"actions":false,"final_dom":false,"report":false,"upload":false}}"#;
    let mut ids = Vec::new();
    for _ in 0..n {
        let request = RunRequest::from_json(quiet).unwrap();
        let submitted = ask(engine, |reply| Command::Submit {
            request: Box::new(request),
            reply,
        })
        .await;
        ids.push(submitted.unwrap());
    }
    ids
}

/// The supervisor counts a run as finished once its commit is acknowledged; the stats once no
/// run is active (or after 10 s, for the caller's assertions to show).
async fn stats_once_none_active(engine: &Engine) -> EngineStats {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stats = ask(engine, |reply| Command::Stats { reply }).await;
        if stats.active == 0 || std::time::Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A run that lives only in the store answers the same: its status, a replay from a seq, and
/// a cancel that finds it already finished.
async fn the_oldest_answers_from_the_store(engine: &Engine, oldest: RunId) {
    let status = ask(engine, |reply| Command::Status {
        run_id: oldest,
        reply,
    })
    .await
    .unwrap();
    assert_eq!(status.state, RunState::Completed);
    let replay = ask(engine, |reply| Command::Subscribe {
        run_id: oldest,
        after_seq: 2,
        reply,
    })
    .await
    .unwrap();
    let events: Vec<_> = futures::StreamExt::collect(replay.into_stream()).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (3..=status.last_seq).collect::<Vec<_>>());
    let cancelled = ask(engine, |reply| Command::Cancel {
        run_id: oldest,
        reply,
    })
    .await;
    assert_eq!(cancelled, Ok(crate::command::CancelAck::AlreadyFinished));
}

/// Every run id the index lists, following cursors through pages of 300.
async fn every_page_of_the_index(engine: &Engine) -> Vec<RunId> {
    let handle = engine.handle();
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let query = crate::index::ListQuery {
            limit: 300,
            cursor,
            ..Default::default()
        };
        let page = handle.list_page(query).await.unwrap();
        paged.extend(page.runs.iter().map(|s| s.run_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return paged,
        }
    }
}

/// A store whose `create_run` waits at a gate while the gate is closed.
#[derive(Debug)]
struct GatedStore {
    inner: DirStore,
    closed: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl crate::store::RunStore for GatedStore {
    fn create_run(&self, run_id: RunId) -> std::io::Result<std::path::PathBuf> {
        let mut closed = self.closed.lock().unwrap();
        while *closed {
            closed = self.opened.wait(closed).unwrap();
        }
        self.inner.create_run(run_id)
    }
    fn write_status(&self, status: &RunStatus) -> std::io::Result<()> {
        self.inner.write_status(status)
    }
    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        self.inner.load_status(run_id)
    }
    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn crate::store::LogWriter>> {
        self.inner.open_log(run_id)
    }
    fn load_events(&self, run_id: RunId) -> Vec<crate::event::RunEvent> {
        self.inner.load_events(run_id)
    }
    fn run_ids(&self) -> Vec<RunId> {
        self.inner.run_ids()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_cancels_never_wait_behind_a_submit_stuck_on_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(&dir);
    let store = Arc::new(GatedStore {
        inner: DirStore::new(config.runs_dir.clone()),
        closed: std::sync::Mutex::new(false),
        opened: std::sync::Condvar::new(),
    });
    let engine = Engine::start_with(config, store.clone(), Arc::new(FakeLauncher))
        .await
        .unwrap();
    let handle = engine.handle();
    let first = handle
        .submit(RunRequest::from_json(OK).unwrap())
        .await
        .unwrap();
    handle.wait(first).await.unwrap();

    *store.closed.lock().unwrap() = true;
    let stuck = {
        let handle = handle.clone();
        tokio::spawn(async move { handle.submit(RunRequest::from_json(OK).unwrap()).await })
    };
    // The submit is now held at the store; everything else still answers at once.
    let answers = async {
        let status = handle.status(first).await.unwrap().unwrap();
        let page = handle.list_page(Default::default()).await.unwrap();
        let stats = handle.stats().await.unwrap();
        let replay: Vec<_> =
            futures::StreamExt::collect(handle.events(first, 0).await.unwrap()).await;
        let cancel = handle.cancel(first).await;
        (status, page, stats, replay, cancel)
    };
    let (status, page, stats, replay, cancel) =
        tokio::time::timeout(std::time::Duration::from_secs(2), answers)
            .await
            .expect("reads answered while a submit was stuck in the store");
    assert_eq!(status.state, RunState::Completed);
    assert_eq!(page.runs.len(), 1);
    assert_eq!(stats.queue_capacity, Config::default().queue_capacity);
    assert!(replay.last().unwrap().is_terminal());
    assert_eq!(cancel, Ok(crate::command::CancelAck::AlreadyFinished));
    assert!(
        !stuck.is_finished(),
        "the gated submit cannot have returned"
    );

    *store.closed.lock().unwrap() = false;
    store.opened.notify_all();
    let second = stuck.await.unwrap().unwrap();
    let status = handle.wait(second).await.unwrap();
    assert_eq!(status.state, RunState::Completed);
    let page = handle.list_page(Default::default()).await.unwrap();
    let listed: Vec<RunId> = page.runs.iter().map(|s| s.run_id).collect();
    assert_eq!(listed, vec![second, first]);
}
