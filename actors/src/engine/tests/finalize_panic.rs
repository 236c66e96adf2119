//! A finalize job that panics (fault injected through the store's event writer, which panics
//! on the first run's terminal event) still ends its run as `INTERNAL_ERROR`, gives its
//! subscribers a terminal event, frees its slot for the next run, and lets shutdown complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{FakeLauncher, OK, run, test_config};
use crate::engine::Engine;
use crate::run::{ErrorCode, RunId, RunState, RunStatus};
use crate::store::{DirStore, LogWriter, RunStore};

/// A store whose event writer panics on the first terminal event it is asked to append.
#[derive(Debug)]
struct PanickingStore {
    inner: DirStore,
    armed: Arc<AtomicBool>,
}

#[derive(Debug)]
struct PanickingWriter {
    inner: Box<dyn LogWriter>,
    armed: Arc<AtomicBool>,
}

impl LogWriter for PanickingWriter {
    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        let terminal = String::from_utf8_lossy(line).contains(r#""type":"finished""#);
        if terminal && self.armed.swap(false, Ordering::SeqCst) {
            panic!("injected: the event writer broke on the terminal event");
        }
        self.inner.append(line)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }
}

impl RunStore for PanickingStore {
    fn create_run(&self, run_id: RunId) -> std::io::Result<std::path::PathBuf> {
        self.inner.create_run(run_id)
    }
    fn write_status(&self, status: &RunStatus) -> std::io::Result<()> {
        self.inner.write_status(status)
    }
    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        self.inner.load_status(run_id)
    }
    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn LogWriter>> {
        Ok(Box::new(PanickingWriter {
            inner: self.inner.open_log(run_id)?,
            armed: self.armed.clone(),
        }))
    }
    fn load_events(&self, run_id: RunId) -> Vec<crate::event::RunEvent> {
        self.inner.load_events(run_id)
    }
    fn run_ids(&self) -> Vec<RunId> {
        self.inner.run_ids()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_finalize_job_fails_its_run_and_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir);
    config.max_concurrent_runs = 1;
    let armed = Arc::new(AtomicBool::new(true));
    let store = Arc::new(PanickingStore {
        inner: DirStore::new(config.runs_dir.clone()),
        armed: armed.clone(),
    });
    let engine = Engine::start_with(config, store.clone(), Arc::new(FakeLauncher))
        .await
        .unwrap();

    the_run_whose_job_panicked_fails_as_an_internal_error(&engine, &store, &armed).await;
    the_next_run_gets_the_freed_slot(&engine).await;

    let handle = engine.handle();
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        handle.shutdown(std::time::Duration::from_secs(1)),
    )
    .await
    .expect("shutdown completed in time")
    .unwrap();
    assert_eq!(report.cancelled, 0);
    tokio::time::timeout(std::time::Duration::from_secs(10), engine.join())
        .await
        .expect("the engine stopped");
}

/// `run` waits for the terminal event: it arrives although the job that owed it panicked; the
/// run failed as `INTERNAL_ERROR`, in the store and in the engine.
async fn the_run_whose_job_panicked_fails_as_an_internal_error(
    engine: &Engine,
    store: &PanickingStore,
    armed: &AtomicBool,
) {
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), run(engine, OK))
        .await
        .expect("no terminal event for the run whose finalize job panicked");
    assert!(
        !armed.load(Ordering::SeqCst),
        "the fault was never injected"
    );
    assert_eq!(first.state, RunState::Failed);
    let error = first.error.as_ref().unwrap();
    assert_eq!(error.code, ErrorCode::InternalError);
    assert!(error.message.contains("injected"), "{}", error.message);
    let stored = store
        .load_status(first.run_id)
        .expect("status.json written");
    assert_eq!(stored.state, RunState::Failed);
    assert_eq!(
        engine
            .handle()
            .status(first.run_id)
            .await
            .unwrap()
            .unwrap()
            .state,
        RunState::Failed
    );
}

/// One slot: the next run can only run if the panicked job's slot was freed; then nothing is
/// active or queued.
async fn the_next_run_gets_the_freed_slot(engine: &Engine) {
    let second = tokio::time::timeout(std::time::Duration::from_secs(20), run(engine, OK))
        .await
        .expect("the next run never ran: the slot was not freed");
    assert_eq!(second.state, RunState::Completed);
    // The slot is freed just after the terminal event is published: poll for it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let stats = engine.handle().stats().await.unwrap();
        if (stats.active, stats.queued) == (0, 0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
