//! Pilothouse: an embeddable orchestrator for browser-automation runs in real Chromium.
//!
//! A host starts an [`Orchestrator`], submits [`RunRequest`]s through its cloneable
//! [`OrchestratorHandle`], watches each run's [`RunEvent`]s, and reads the final [`RunStatus`]
//! (also written to `runs/<run_id>/status.json`).
//!
//! ```no_run
//! use futures::StreamExt;
//! use pilothouse::{Config, Orchestrator, RunRequest};
//!
//! # async fn demo() -> anyhow::Result<()> {
//! let orchestrator = Orchestrator::start(Config::default()).await?;
//! let handle = orchestrator.handle();
//! let request = RunRequest::from_json(r#"{
//!     "driver": {"type": "script", "steps": [
//!         {"action": "goto", "url": "https://example.com/"},
//!         {"action": "extract", "selector": "h1", "store_as": "heading"}]}
//! }"#)?;
//! let run_id = handle.submit(request).await?;
//! let mut events = handle.events(run_id, 0).await?;
//! while let Some(event) = events.next().await {
//!     println!("{} {}", event.seq, event.kind.type_name());
//! }
//! let status = handle.status(run_id).await?.expect("known run");
//! println!("{} {:?}", status.state, status.data.get("heading"));
//! orchestrator.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `src/lib.rs` (this crate): the facade — [`Orchestrator`], [`OrchestratorHandle`], re-exports
//! - `src/main.rs` + `src/cli/`: the `pilothouse` binary (feature `cli`)
//! - `actors/` (crate `pilothouse-actors`): the engine, one actor per file

use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

pub use pilothouse_actors::{
    Action, ActionFailure, Artifact, CancelAck, CancelError, ChromiumLauncher, Command, Config,
    ConfigError, DirStore, DriverSpec, EngineStats, EngineTimeouts, ErrorCode, EventKind,
    EventSubscription, ExtractMode, FieldError, FinalizeError, GuardrailSpec, InvalidRequest,
    Limits, LogWriter, Manifest, ObserveCaps, RecordingConfig, RecordingInfo, RecordingSpec,
    RecoveryReport, RegistryConfig, RunDefaults, RunError, RunEvent, RunId, RunOutcome, RunRequest,
    RunState, RunStatus, RunStore, ScrollDirection, Secret, Severity, ShutdownReport, StartError,
    StuckSpec, SubmitError, TaskKind, Viewport, WaitState,
};
pub use pilothouse_actors::{
    AgentConfig, AgentSpec, LimitsConfig, OnFailure, ParamType, Parameter, Playbook,
    PlaybookConfig, PlaybookSpec, RecoveryInfo, SelectorSpec, Step, TokenUsage, Verify,
    load_playbook, parse_playbook,
};

use pilothouse_actors::Engine;

/// The running orchestrator. Dropping it does not stop runs; call [`Orchestrator::shutdown`].
#[derive(Debug)]
pub struct Orchestrator {
    engine: Engine,
    handle: OrchestratorHandle,
}

impl Orchestrator {
    /// Starts the actor system with the directory store under `config.runs_dir` and a Chromium
    /// per run. Before it admits anything, runs a previous process left unfinished become
    /// `interrupted` and that process's orphaned browsers are killed (see [`Self::recovery`]).
    pub async fn start(config: Config) -> Result<Self, StartError> {
        Ok(Self::wrap(Engine::start(config).await?))
    }

    /// Starts with another run store (a database, or a wrapper that injects faults in tests).
    pub async fn start_with_store(
        mut config: Config,
        store: std::sync::Arc<dyn RunStore>,
    ) -> Result<Self, StartError> {
        config.chromium_path = Some(config.resolve_chromium()?);
        let launcher = std::sync::Arc::new(ChromiumLauncher);
        Ok(Self::wrap(
            Engine::start_with(config, store, launcher).await?,
        ))
    }

    fn wrap(engine: Engine) -> Self {
        let handle = OrchestratorHandle {
            sender: engine.sender().clone(),
        };
        Self { engine, handle }
    }

    /// What start-up recovery found: runs now `interrupted`, orphaned browsers killed.
    pub fn recovery(&self) -> &RecoveryReport {
        self.engine.recovery()
    }

    /// A cloneable handle for submitting and watching runs.
    pub fn handle(&self) -> OrchestratorHandle {
        self.handle.clone()
    }

    /// Stops admitting runs, lets running ones finish within `grace`, cancels the rest, waits
    /// until every run is finalized (browsers closed, status committed), then stops.
    pub async fn shutdown(self, grace: Duration) -> ShutdownReport {
        let report = self.handle.shutdown(grace).await.unwrap_or_default();
        drop(self.handle);
        self.engine.join().await;
        report
    }
}

/// The host's handle: a thin wrapper over `mpsc::Sender<Command>`.
#[derive(Clone, Debug)]
pub struct OrchestratorHandle {
    sender: mpsc::Sender<Command>,
}

/// The orchestrator has stopped; the command was not handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the orchestrator is not running")]
pub struct Unavailable;

/// Why `events` returned no stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// No such run.
    #[error("unknown run {0}")]
    NotFound(RunId),
    /// The orchestrator has stopped.
    #[error("the orchestrator is not running")]
    Unavailable,
}

impl OrchestratorHandle {
    /// The raw command sender, for hosts that send [`Command`] values themselves.
    pub fn sender(&self) -> &mpsc::Sender<Command> {
        &self.sender
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Unavailable> {
        let (tx, rx) = oneshot::channel();
        self.sender.send(make(tx)).await.map_err(|_| Unavailable)?;
        rx.await.map_err(|_| Unavailable)
    }

    /// Validates and admits a run. Fails at once with `QueueFull` when the queue is full.
    pub async fn submit(&self, request: RunRequest) -> Result<RunId, SubmitError> {
        self.ask(|reply| Command::Submit {
            request: Box::new(request),
            reply,
        })
        .await
        .unwrap_or(Err(SubmitError::Unavailable))
    }

    /// A run's status; `None` for an unknown run.
    pub async fn status(&self, run_id: RunId) -> Result<Option<RunStatus>, Unavailable> {
        self.ask(|reply| Command::Status { run_id, reply }).await
    }

    /// Cancels a queued or running run.
    pub async fn cancel(&self, run_id: RunId) -> Result<CancelAck, CancelError> {
        self.ask(|reply| Command::Cancel { run_id, reply })
            .await
            .unwrap_or(Err(CancelError::Unavailable))
    }

    /// Every known run, oldest first.
    pub async fn list(&self) -> Result<Vec<RunStatus>, Unavailable> {
        self.ask(|reply| Command::List { reply }).await
    }

    /// A run's events with `seq > after_seq`: the log first, then live events, ending after the
    /// terminal `finished` event. No gap and no duplicate.
    pub async fn events(
        &self,
        run_id: RunId,
        after_seq: u64,
    ) -> Result<impl Stream<Item = RunEvent> + Send + Unpin + 'static, EventsError> {
        let subscription = self
            .ask(|reply| Command::Subscribe {
                run_id,
                after_seq,
                reply,
            })
            .await
            .map_err(|_| EventsError::Unavailable)?
            .ok_or(EventsError::NotFound(run_id))?;
        Ok(subscription.into_stream())
    }

    /// Every run's events from now on. A receiver that falls far behind skips events (use
    /// `events(run_id, after_seq)` to catch up on a run from its log).
    pub async fn subscribe_all(
        &self,
    ) -> Result<impl Stream<Item = RunEvent> + Send + Unpin + 'static, Unavailable> {
        let receiver = self.ask(|reply| Command::SubscribeAll { reply }).await?;
        Ok(BroadcastStream::new(receiver).filter_map(Result::ok))
    }

    /// Waits until `run_id` is terminal and returns its final status.
    pub async fn wait(&self, run_id: RunId) -> Result<RunStatus, EventsError> {
        let mut events = self.events(run_id, 0).await?;
        while let Some(event) = futures::StreamExt::next(&mut events).await {
            if let EventKind::Finished { status } = event.kind {
                return Ok(*status);
            }
        }
        // The log ended without a terminal event (a run interrupted by a crash).
        self.status(run_id)
            .await
            .map_err(|_| EventsError::Unavailable)?
            .ok_or(EventsError::NotFound(run_id))
    }

    /// Counts of runs in memory, running and queued.
    pub async fn stats(&self) -> Result<EngineStats, Unavailable> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// Asks the orchestrator to shut down; see [`Orchestrator::shutdown`].
    pub async fn shutdown(&self, grace: Duration) -> Result<ShutdownReport, Unavailable> {
        self.ask(|reply| Command::Shutdown { grace, reply }).await
    }
}
