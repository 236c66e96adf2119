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
//! - `src/lib.rs` (this crate): the facade — [`Orchestrator`] and the engine's public types
//!   ([`OrchestratorHandle`] is defined in the engine and re-exported here)
//! - `src/main.rs` + `src/cli/`: the `pilothouse` binary (feature `cli`)
//! - `src/server.rs` + `src/server/`: `pilothouse serve`, the HTTP API over one orchestrator
//! - `actors/` (crate `pilothouse-actors`): the engine, one actor per file

use std::time::Duration;

#[cfg(feature = "postgres")]
pub use pilothouse_actors::PgStore;
pub use pilothouse_actors::{
    API_KEY_ENV, Action, ActionFailure, AllowedDownloads, Artifact, CancelAck, CancelError,
    ChromiumLauncher, Command, Config, ConfigError, DirStore, Download, DownloadOutcome,
    DownloadPolicy, DownloadSink, DownloadSpec, DriverSpec, Durable, EngineStats, EngineTimeouts,
    ErrorCode, EventKind, EventSubscription, EventsError, ExtractMode, FieldError, FinalizeError,
    GuardrailSpec, InvalidRequest, Limits, ListQuery, LogWriter, Manifest, ObserveCaps,
    OrchestratorHandle, RecordingConfig, RecordingInfo, RecordingSpec, RecoveryReport,
    RegistryConfig, RunDefaults, RunError, RunEvent, RunId, RunOutcome, RunPage, RunRequest,
    RunState, RunStatus, RunStore, ScrollDirection, Secret, ServerConfig, Severity, ShutdownReport,
    StartError, StuckSpec, SubmitError, TaskKind, Unavailable, Viewport, WaitState,
};
pub use pilothouse_actors::{
    AgentConfig, AgentSpec, AutoSpec, BrowserConfig, ExecutionMode, GuardrailFloor, Isolation,
    LimitsConfig, OnFailure, ParamType, Parameter, Playbook, PlaybookConfig, PlaybookFormat,
    PlaybookGuardrails, PlaybookSpec, PoolStats, RecoveryInfo, RouteInfo, SelectorSpec, Step,
    StoreBackend, StoreConfig, TokenUsage, Verify, load_playbook, parse_playbook,
    parse_playbook_with_format, parse_yaml_value, playbook_yaml_format,
};
pub use pilothouse_actors::{ApiCall, ApiCookies, ApiResponse, HeaderValue, ResponseMode};
pub use pilothouse_actors::{
    AuthBlock, AuthMode, AuthSuccess, CaptureBlock, CookieCapture, SessionSpec, SessionsConfig,
    StorageCapture, StorageScope,
};
pub use pilothouse_actors::{ClaimedRun, EnqueueError, NewRun, SharedCancel, SharedRuns};
pub use pilothouse_actors::{ExportedPlaybook, escape_html, export_playbook};
pub use pilothouse_actors::{
    GuardrailOverrides, Profile, ProfileSpec, ReasoningEffort, SafetyConfig,
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
        let handle = engine.handle();
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
