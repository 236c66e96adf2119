//! Unit tests of record.rs: a reader never sees a run live once its end may be committed.

use std::sync::mpsc;

use super::*;
use crate::config::Config;
use crate::run::RunState;
use crate::store::{DirStore, LogWriter};

/// A store whose final-status write waits, "in the database", until the test releases it.
#[derive(Debug)]
struct GatedStore {
    inner: DirStore,
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl RunStore for GatedStore {
    fn create_run(&self, run_id: RunId) -> std::io::Result<PathBuf> {
        self.inner.create_run(run_id)
    }
    fn write_status(&self, status: &RunStatus) -> std::io::Result<()> {
        self.inner.write_status(status)?;
        if status.state.is_terminal() {
            // Committed: another node could read it now, before this write returns.
            self.entered.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        Ok(())
    }
    fn load_status(&self, run_id: RunId) -> Option<RunStatus> {
        self.inner.load_status(run_id)
    }
    fn open_log(&self, run_id: RunId) -> std::io::Result<Box<dyn LogWriter>> {
        self.inner.open_log(run_id)
    }
    fn load_events(&self, run_id: RunId) -> Vec<RunEvent> {
        self.inner.load_events(run_id)
    }
    fn run_ids(&self) -> Vec<RunId> {
        self.inner.run_ids()
    }
}

/// A queued one-step script run's record in `store` (for unit tests of what reads records).
pub(crate) fn queued_record(store: Arc<dyn RunStore>) -> Arc<RunRecord> {
    let run_id = RunId::new();
    let request = RunRequest::from_json(
        r#"{"driver": {"type": "script", "steps": [{"action": "evaluate", "script": "1"}]}}"#,
    )
    .unwrap();
    let config = Config::default();
    let (firehose, _) = tokio::sync::broadcast::channel(16);
    let log = EventLog::new(
        run_id,
        store.open_log(run_id).unwrap(),
        Vec::new(),
        firehose,
    );
    RunRecord::new(
        request.admit(&config).unwrap(),
        store.create_run(run_id).unwrap(),
        log,
        RunStatus::new_queued(run_id, "script", Default::default()),
        store,
        config.limits.max_data_bytes,
    )
}

#[tokio::test]
async fn a_reader_waits_out_the_commit_of_the_final_status() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let store: Arc<dyn RunStore> = Arc::new(GatedStore {
        inner: DirStore::new(dir.path()),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    let record = queued_record(store);
    let mut last = record.snapshot();
    last.state = RunState::Cancelled;
    let committer = record.clone();
    let commit = std::thread::spawn(move || committer.commit_status(&last));
    entered.recv().unwrap();

    // The end is in the store, the committing thread has not returned: no reader may say live.
    let mut read = std::pin::pin!(record.settled());
    assert!(futures::poll!(read.as_mut()).is_pending());
    release.send(()).unwrap();
    assert_eq!(read.await.state, RunState::Cancelled);
    commit.join().unwrap().unwrap();
    assert_eq!(record.settled().await.state, RunState::Cancelled);
}
