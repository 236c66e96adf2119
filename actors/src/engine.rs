//! Starting and stopping the actor system: the supervisor, the run index, and the pump task
//! that takes the host's mpsc commands — reads are answered by the handle's reader at once,
//! everything else goes to the supervisor's mailbox.

use std::sync::Arc;

use dashmap::DashMap;
use ractor::{Actor, ActorRef};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::chromium::ChromiumLauncher;
use crate::cluster::SharedRuns;
use crate::command::Command;
use crate::config::{Config, ConfigError, StoreBackend};
use crate::handle::{Counts, OrchestratorHandle, Reader};
use crate::index::{IndexedStore, RunIndex};
use crate::page_driver::BrowserLauncher;
use crate::recovery::{RecoveryReport, recover};
use crate::store::{DirStore, RunStore};
use crate::supervisor::{SupervisorActor, SupervisorArgs, SupervisorMsg};

/// Commands that may wait in the host's channel before `send` waits.
const COMMAND_CHANNEL_CAPACITY: usize = 1024;
/// Events the firehose keeps for slow `subscribe_all` receivers.
const FIREHOSE_CAPACITY: usize = 4096;

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The runs directory or profile root cannot be created.
    #[error("cannot prepare {path}: {source}")]
    Storage {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The supervisor actor failed to start.
    #[error("the supervisor did not start: {0}")]
    Spawn(String),
    /// The shared run store (`[store] backend = "postgres"`) could not be used.
    #[error("{0}")]
    Store(String),
}

/// A running actor system.
#[derive(Debug)]
pub struct Engine {
    handle: OrchestratorHandle,
    supervisor: ActorRef<SupervisorMsg>,
    supervisor_done: JoinHandle<()>,
    recovery: RecoveryReport,
}

impl Engine {
    /// Starts with the directory store under `config.runs_dir` and a Chromium per run. Fails
    /// at once when no Chromium can be found, rather than failing every run later.
    pub async fn start(mut config: Config) -> Result<Self, StartError> {
        config.chromium_path = Some(config.resolve_chromium()?);
        let (_, rerouting) = crate::chromium::split_operator_args(&config.chromium_args);
        if !rerouting.is_empty() {
            tracing::warn!(
                ?rerouting,
                "chromium_args that would route around the run's proxy are ignored"
            );
        }
        let launcher = Arc::new(ChromiumLauncher);
        match config.store.backend {
            StoreBackend::File => {
                let store = Arc::new(DirStore::new(config.runs_dir.clone()));
                Self::start_with(config, store, launcher).await
            }
            StoreBackend::Postgres => start_postgres(config, launcher).await,
        }
    }

    /// Starts as one node of several sharing `store` (e.g. [`crate::PgStore`]): submitted runs go
    /// to the shared queue, and this node claims runs up to its `max_concurrent_runs`. No
    /// start-up recovery of the store: runs of nodes that died are settled by the survivors'
    /// reapers.
    pub async fn start_shared<S: RunStore + SharedRuns>(
        config: Config,
        store: Arc<S>,
        launcher: Arc<dyn BrowserLauncher>,
    ) -> Result<Self, StartError> {
        let shared: Arc<dyn SharedRuns> = store.clone();
        Self::start_parts(config, store, Some(shared), launcher).await
    }

    /// Starts with a given store and browser launcher. Before the first command, the store is
    /// recovered (unfinished runs become `interrupted`) and orphaned browsers of a previous
    /// process under `profile_root` are killed.
    pub async fn start_with(
        config: Config,
        store: Arc<dyn RunStore>,
        launcher: Arc<dyn BrowserLauncher>,
    ) -> Result<Self, StartError> {
        Self::start_parts(config, store, None, launcher).await
    }

    async fn start_parts(
        mut config: Config,
        store: Arc<dyn RunStore>,
        shared: Option<Arc<dyn SharedRuns>>,
        launcher: Arc<dyn BrowserLauncher>,
    ) -> Result<Self, StartError> {
        config.validate()?;
        prepare_dirs(&mut config)?;
        let (recovery, index) = recover_store(&store, &config, shared.is_none()).await?;
        let index = Arc::new(index);
        let store: Arc<dyn RunStore> = Arc::new(IndexedStore::new(store, index.clone()));
        if !recovery.orphans_killed.is_empty() {
            metrics::counter!("pilothouse_orphan_browsers_killed_total")
                .increment(recovery.orphans_killed.len() as u64);
        }
        let uploader = crate::recording::upload::Uploader::from_config(&config.recording).map_err(
            |message| ConfigError::Invalid {
                field: "recording",
                message,
            },
        )?;
        let egress = egress_policy(&config, launcher.as_ref());
        let llm = Arc::new(crate::llm::LlmClient::new(config.agent.clone()));
        let call_timeout = std::time::Duration::from_millis(config.timeouts.actor_call_ms);
        let reader = Arc::new(reader(&config, store, index, egress, shared.clone()));
        // `proxy+webrtc-proxied-only` for Chromium: see `chromium/egress.rs`.
        tracing::info!(egress, "egress policy active");
        let config = Arc::new(config);
        let classifier = crate::safety::Classifier::new(config.clone(), llm.clone());
        let args = SupervisorArgs {
            config,
            launcher,
            reader: reader.clone(),
            uploader: Arc::new(uploader),
            llm,
            shared,
        };
        let (supervisor, supervisor_done) = Actor::spawn(None, SupervisorActor, args)
            .await
            .map_err(|e| StartError::Spawn(e.to_string()))?;
        let sender = spawn_pump(supervisor.clone(), reader.clone(), classifier);
        Ok(Self {
            handle: OrchestratorHandle::new(sender, reader, call_timeout),
            supervisor,
            supervisor_done,
            recovery,
        })
    }

    /// What start-up recovery found: interrupted runs and killed orphan browsers.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The command sender hosts use.
    pub fn sender(&self) -> &mpsc::Sender<Command> {
        self.handle.sender()
    }

    /// A cloneable handle for submitting and watching runs.
    pub fn handle(&self) -> OrchestratorHandle {
        self.handle.clone()
    }

    /// Waits for the supervisor to stop (after a shutdown command).
    pub async fn join(self) {
        drop(self.handle);
        let _ = self.supervisor_done.await;
    }

    /// True while the supervisor runs.
    pub fn is_running(&self) -> bool {
        !self.supervisor_done.is_finished()
            && self.supervisor.get_status() == ractor::ActorStatus::Running
    }
}

/// Creates the runs directory and the profile root, and spells the profile root one way
/// (browsers are told apart by their profile path).
fn prepare_dirs(config: &mut Config) -> Result<(), StartError> {
    for dir in [&config.runs_dir, &config.profile_root] {
        std::fs::create_dir_all(dir).map_err(|source| StartError::Storage {
            path: dir.clone(),
            source,
        })?;
    }
    config.profile_root =
        std::fs::canonicalize(&config.profile_root).map_err(|source| StartError::Storage {
            path: config.profile_root.clone(),
            source,
        })?;
    Ok(())
}

/// Off the runtime's threads: unfinished runs become `interrupted`, a previous process's
/// orphaned browsers under the profile root are killed, and the run index is built. A shared
/// store (`own_store` false) is neither recovered nor indexed here: other nodes' runs are live.
async fn recover_store(
    store: &Arc<dyn RunStore>,
    config: &Config,
    own_store: bool,
) -> Result<(RecoveryReport, RunIndex), StartError> {
    let store = store.clone();
    let profiles = config.profile_root.clone();
    tokio::task::spawn_blocking(move || {
        let mut report = match own_store {
            true => recover(store.as_ref()),
            false => RecoveryReport::default(),
        };
        let sweep = crate::chromium::orphans::sweep(&profiles);
        report.orphans_killed = sweep.killed;
        report.profiles_removed = sweep.removed_profiles;
        let index = match own_store {
            true => RunIndex::build(store.as_ref()),
            false => RunIndex::default(),
        };
        (report, index)
    })
    .await
    .map_err(|e| StartError::Spawn(format!("recovery failed: {e}")))
}

/// The egress mechanism in force, as `stats()` reports it.
fn egress_policy(config: &Config, launcher: &dyn BrowserLauncher) -> &'static str {
    // Remote browsers were started by someone else: their WebRTC policy is theirs to set.
    if config.browser.connect.is_empty() || !launcher.pooled() {
        launcher.egress()
    } else {
        "proxy+remote-browser-webrtc-unverified"
    }
}

/// The handle's reader: the run registry, the indexed store and the firehose.
fn reader(
    config: &Config,
    store: Arc<dyn RunStore>,
    index: Arc<RunIndex>,
    egress: &'static str,
    shared: Option<Arc<dyn SharedRuns>>,
) -> Reader {
    let (firehose, _) = broadcast::channel(FIREHOSE_CAPACITY);
    Reader {
        registry: Arc::new(DashMap::new()),
        store,
        index,
        firehose,
        counts: Counts::default(),
        max_concurrent_runs: config.max_concurrent_runs,
        queue_capacity: config.queue_capacity,
        egress,
        pool: Arc::new(tokio::sync::watch::channel(None).0),
        shared,
    }
}

/// Joins the PostgreSQL store named by `[store] url` as a new node.
#[cfg(feature = "postgres")]
async fn start_postgres(
    config: Config,
    launcher: Arc<dyn BrowserLauncher>,
) -> Result<Engine, StartError> {
    config.validate()?;
    let slots = config.max_concurrent_runs;
    let store = crate::pg::PgStore::connect(&config.store, config.runs_dir.clone(), slots)
        .await
        .map_err(StartError::Store)?;
    Engine::start_shared(config, store, launcher).await
}

#[cfg(not(feature = "postgres"))]
async fn start_postgres(
    _config: Config,
    _launcher: Arc<dyn BrowserLauncher>,
) -> Result<Engine, StartError> {
    Err(StartError::Config(ConfigError::Invalid {
        field: "store.backend",
        message: "this build has no PostgreSQL store: build with the `postgres` feature".into(),
    }))
}

/// The pump: takes the host's commands; reads are answered by the reader at once, everything
/// else goes to the supervisor's mailbox. Ends when every sender is gone or the supervisor is.
fn spawn_pump(
    supervisor: ActorRef<SupervisorMsg>,
    reader: Arc<Reader>,
    classifier: Option<crate::safety::Classifier>,
) -> mpsc::Sender<Command> {
    let (sender, mut commands) = mpsc::channel::<Command>(COMMAND_CHANNEL_CAPACITY);
    tokio::spawn(async move {
        while let Some(command) = commands.recv().await {
            let Some(command) = reader.serve(command) else {
                continue;
            };
            let command = match (command, &classifier) {
                (Command::Submit { request, reply }, Some(c)) if c.wants(&request) => {
                    classify_then_submit(supervisor.clone(), c.clone(), request, reply);
                    continue;
                }
                (command, _) => command,
            };
            if supervisor.cast(SupervisorMsg::Command(command)).is_err() {
                break;
            }
        }
    });
    sender
}

/// `[safety] classify_directives`: the directive is classified in a task of its own (a model
/// call takes seconds; other commands go on meanwhile), then the request is submitted.
fn classify_then_submit(
    supervisor: ActorRef<SupervisorMsg>,
    classifier: crate::safety::Classifier,
    mut request: Box<crate::request::RunRequest>,
    reply: tokio::sync::oneshot::Sender<Result<crate::run::RunId, crate::command::SubmitError>>,
) {
    tokio::spawn(async move {
        classifier.classify(&mut request).await;
        let command = Command::Submit { request, reply };
        // A supervisor that is gone drops `reply`: the caller hears Unavailable.
        let _ = supervisor.cast(SupervisorMsg::Command(command));
    });
}

#[cfg(test)]
mod tests;
