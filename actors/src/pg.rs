//! The PostgreSQL run store (`[store] backend = "postgres"`): runs, the shared admission queue
//! and the event log in one database that several nodes share. It is both the engine's
//! [`RunStore`] and its [`SharedRuns`].
//!
//! The database is the truth: a claim, a status change and an event batch each commit in one
//! transaction guarded by the run's `epoch`; LISTEN/NOTIFY only wakes nodes up early. The
//! store runs its database work on a small runtime of its own, so the engine's blocking store
//! calls (made off the async threads, as for files) never block a task the database needs.
//!
//! - `pg/log.rs`: the per-run event writer (batched, fenced).
//! - `pg/queue.rs`: enqueue, claim, cancel.
//! - `pg/lease.rs`: the node's lease, self-fencing, the reaper and the notification listener.
//! - `pg/read.rs`: statuses, events and pages for any node.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{Notify, mpsc};

use crate::config::StoreConfig;
use crate::request::Secret;
use crate::run::RunId;

mod lease;
mod log;
mod queue;
mod read;
mod shared;
mod store;

/// The schema, applied at start (each node takes the migration lock; the first applies).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A shared run store on PostgreSQL.
#[derive(Debug)]
pub struct PgStore {
    inner: Arc<Inner>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
}

/// What the store's tasks share.
#[derive(Debug)]
struct Inner {
    pool: PgPool,
    node_id: String,
    config: StoreConfig,
    /// Local scratch directories (recordings are captured there before upload).
    runs_dir: PathBuf,
    /// Runs this node owns, with the epoch of its claim.
    owned: DashMap<RunId, i64>,
    /// Terminal events held back until their run's terminal status commits with them.
    terminal: DashMap<RunId, log::Row>,
    /// How far each owned run's events are committed, for the owner's own live tails.
    durable: DashMap<RunId, tokio::sync::watch::Sender<crate::store::Durable>>,
    /// Credentials of runs submitted here, until this node claims them.
    credentials: DashMap<RunId, BTreeMap<String, Secret>>,
    fence_tx: mpsc::UnboundedSender<RunId>,
    fence_rx: Mutex<Option<mpsc::UnboundedReceiver<RunId>>>,
    /// Woken by `ph_work` (a run queued, a cancel requested).
    work: Arc<Notify>,
    /// Woken by `ph_ev` (events committed).
    events: Arc<Notify>,
    /// False while this node cannot renew its lease.
    leased: AtomicBool,
    /// Cancelled at `close`: the lease, reaper and listener stop.
    closing: tokio_util::sync::CancellationToken,
}

impl PgStore {
    /// Connects, applies the schema, registers this node and starts its lease, reaper and
    /// listener. `slots` is this node's `max_concurrent_runs`.
    pub async fn connect(
        config: &StoreConfig,
        runs_dir: PathBuf,
        slots: usize,
    ) -> Result<Arc<Self>, String> {
        let url = config
            .url
            .clone()
            .ok_or("store.url is not set: backend = \"postgres\" needs it")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pilothouse-pg")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the store's runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let (fence_tx, fence_rx) = mpsc::unbounded_channel();
        let shown = config.url_for_display();
        let max = config.pool_connections;
        let pool = handle
            .spawn(async move { connect_pool(&url, max).await })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot use the store at {shown}: {e}"))?;
        let inner = Arc::new(Inner {
            pool,
            node_id: config.node_id.clone().unwrap_or_else(default_node_id),
            config: config.clone(),
            runs_dir,
            owned: DashMap::new(),
            credentials: DashMap::new(),
            terminal: DashMap::new(),
            durable: DashMap::new(),
            fence_tx,
            fence_rx: Mutex::new(Some(fence_rx)),
            work: Arc::new(Notify::new()),
            events: Arc::new(Notify::new()),
            leased: AtomicBool::new(false),
            closing: tokio_util::sync::CancellationToken::new(),
        });
        let starting = inner.clone();
        handle
            .spawn(async move { lease::start(starting, slots).await })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot register this node in the store: {e}"))?;
        tracing::info!(node_id = %inner.node_id, store = %shown, "joined the shared run store");
        Ok(Arc::new(Self {
            inner,
            runtime: Mutex::new(Some(runtime)),
            handle,
        }))
    }

    /// Runs `work` on the store's runtime and blocks the calling thread for its result.
    fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = std::io::Result<T>> + Send + 'static,
    ) -> std::io::Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| std::io::Error::other("the store has shut down"))?
    }

    /// Runs `work` on the store's runtime; the future resolves on any runtime.
    fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = std::io::Result<T>> + Send + 'static,
    ) -> futures::future::BoxFuture<'static, std::io::Result<T>> {
        let task = self.handle.spawn(work);
        Box::pin(async move { task.await.map_err(std::io::Error::other)? })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
    }
}

impl Inner {
    /// Stops a run this node can no longer write: another node owns it now, or this node lost
    /// its lease.
    fn fence(&self, run_id: RunId, why: &str) {
        self.stop_committing(run_id, None);
        if self.owned.remove(&run_id).is_some() {
            tracing::warn!(%run_id, node_id = %self.node_id, why, "run fenced out");
            metrics::counter!("pilothouse_runs_fenced_total").increment(1);
            let _ = self.fence_tx.send(run_id);
        }
    }

    /// Ends the run's committed-events watch: at `terminal` (its terminal event committed), or
    /// given up (`None`: nothing more of this node's will be committed).
    fn stop_committing(&self, run_id: RunId, terminal: Option<u64>) {
        if let Some((_, durable)) = self.durable.remove(&run_id) {
            durable.send_modify(|d| match terminal {
                Some(seq) => d.seq = d.seq.max(seq),
                None => d.given_up = true,
            });
        }
    }

    fn epoch_of(&self, run_id: RunId) -> std::io::Result<i64> {
        self.owned.get(&run_id).map(|e| *e).ok_or_else(|| {
            std::io::Error::other(format!(
                "node {} does not own run {run_id} (fenced out, or never claimed here)",
                self.node_id
            ))
        })
    }

    fn leased(&self) -> bool {
        self.leased.load(Ordering::Acquire)
    }

    fn ms(&self, ms: u64) -> Duration {
        Duration::from_millis(ms)
    }
}

async fn connect_pool(url: &str, max: u32) -> Result<PgPool, String> {
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| format!("applying the schema failed: {e}"))?;
    Ok(pool)
}

/// `<hostname>-<pid>-<8 hex>`: new at every start.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into());
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &random[random.len() - 8..]
    )
}

/// Waits before retrying a write the database could not take, each wait twice the last, up
/// to a second: a restart or a dropped connection is ridden out without hammering it.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(50))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(1));
    }
}

/// A database error as an I/O error (the store traits speak `std::io`).
fn io(error: sqlx::Error) -> std::io::Error {
    std::io::Error::other(error.to_string())
}
