//! The run store's behaviour, asked of both backends alike: the directory store (one node) and
//! the PostgreSQL store (several nodes). A status round-trips; an unknown run has none; events
//! come back in order, continuing what the store already held, after a sync and after the log
//! is opened again; every run is listed, oldest first; a terminal status is what is read back.

mod common;

use std::sync::Arc;

use common::postgres::TestDb;
use pilothouse::{
    DirStore, NewRun, PgStore, RunEvent, RunId, RunOutcome, RunRequest, RunState, RunStatus,
    RunStore, SharedRuns, StoreBackend, StoreConfig,
};

/// A store under test (with what it lives in), and how a run it may write is made.
enum Backend {
    File {
        store: Arc<DirStore>,
        _dir: tempfile::TempDir,
    },
    Postgres {
        store: Arc<PgStore>,
        _db: TestDb,
        _scratch: tempfile::TempDir,
    },
}

async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let file = Backend::File {
        store: Arc::new(DirStore::new(dir.path())),
        _dir: dir,
    };
    let db = TestDb::new().await;
    let config = StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(db.url.clone()),
        ..StoreConfig::default()
    };
    let scratch = tempfile::tempdir().unwrap();
    let pg = PgStore::connect(&config, scratch.path().to_owned(), 4)
        .await
        .unwrap();
    let pg = Backend::Postgres {
        store: pg,
        _db: db,
        _scratch: scratch,
    };
    vec![file, pg]
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::File { .. } => "file",
            Backend::Postgres { .. } => "postgres",
        }
    }

    fn store(&self) -> Arc<dyn RunStore> {
        match self {
            Backend::File { store, .. } => store.clone(),
            Backend::Postgres { store, .. } => store.clone(),
        }
    }

    /// A new run this process may write: created (file), or enqueued and claimed (postgres).
    async fn new_run(&self) -> RunStatus {
        let run_id = RunId::new();
        let status = RunStatus::new_queued(run_id, "script", Default::default());
        match self {
            Backend::File { store, .. } => {
                store.create_run(run_id).unwrap();
                status
            }
            Backend::Postgres { store, .. } => {
                let run = NewRun {
                    run_id,
                    request: RunRequest::from_json(
                        r#"{"driver": {"type": "script", "steps": [{"action": "evaluate", "script": "1"}]}}"#,
                    )
                    .unwrap(),
                    status,
                    capacity: 100,
                };
                let enqueuer = store.clone();
                tokio::task::spawn_blocking(move || enqueuer.enqueue(run).unwrap())
                    .await
                    .unwrap();
                let claimed = store.claim(1).await.unwrap();
                assert_eq!(claimed.len(), 1);
                claimed.into_iter().next().unwrap().status
            }
        }
    }
}

/// Runs `check` on the blocking pool (store calls block, as in the engine).
async fn blocking<T: Send + 'static>(check: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(check).await.unwrap()
}

/// Appends `count` events after those the store holds, through a freshly opened log; all of them.
fn append(store: &dyn RunStore, run_id: RunId, count: u64) -> Vec<RunEvent> {
    let mut all = store.load_events(run_id);
    let first = all.last().map_or(1, |e| e.seq + 1);
    let mut log = store.open_log(run_id).unwrap();
    for seq in first..first + count {
        let (event, line) = common::log_note(run_id, seq);
        log.append_event(&event, &line).unwrap();
        all.push(event);
    }
    log.sync().unwrap();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_round_trip_and_unknown_runs_have_none() {
    for backend in backends().await {
        let mut status = backend.new_run().await;
        status.state = RunState::Running;
        status.action_count = 3;
        let store = backend.store();
        let written = status.clone();
        let (read, unknown) = blocking(move || {
            store.write_status(&written).unwrap();
            (
                store.load_status(written.run_id),
                store.load_status(RunId::new()),
            )
        })
        .await;
        assert_eq!(read, Some(status), "{}", backend.name());
        assert_eq!(unknown, None, "{}", backend.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_back_in_order_across_reopened_logs() {
    for backend in backends().await {
        let run_id = backend.new_run().await.run_id;
        let store = backend.store();
        let (appended, stored) = blocking(move || {
            append(store.as_ref(), run_id, 5);
            let appended = append(store.as_ref(), run_id, 3);
            (appended, store.load_events(run_id))
        })
        .await;
        assert_eq!(stored, appended, "{}", backend.name());
        let seqs: Vec<u64> = stored.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=stored.len() as u64).collect::<Vec<_>>(),
            "{}",
            backend.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_is_listed_oldest_first_and_ends_as_written() {
    for backend in backends().await {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(backend.new_run().await.run_id);
        }
        let mut last = backend.new_run().await;
        ids.push(last.run_id);
        last.finish(RunOutcome::cancelled("done with it"));
        let store = backend.store();
        let written = last.clone();
        let (listed, read) = blocking(move || {
            store.write_status(&written).unwrap();
            (store.run_ids(), store.load_status(written.run_id))
        })
        .await;
        assert_eq!(listed, ids, "{}", backend.name());
        let read = read.unwrap();
        assert_eq!(read.state, RunState::Cancelled, "{}", backend.name());
        assert_eq!(read, last, "{}", backend.name());
    }
}
