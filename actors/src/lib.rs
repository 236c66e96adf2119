//! The Pilothouse engine: an actor system (tokio + ractor) that runs browser-automation runs in
//! real Chromium. Hosts use it through the `pilothouse` crate's `OrchestratorHandle`; this crate's
//! public items are the data types of that API plus [`Engine`], which the facade wraps.
//!
//! # The actor tree
//!
//! ```text
//! Engine (mpsc::Sender<Command>) ── pump task
//!   └── Supervisor            registry (DashMap), admission queue          supervisor.rs
//!         ├── Finalizer       commits terminal outcomes, in order          finalizer.rs
//!         └── Session × N     one per run: deadline, driver task           session.rs
//!               ├── Browser   the run's Chromium and page (CDP)            browser.rs
//!               └── Router    guard → execute → post-nav check → event     router.rs
//! ```
//!
//! # Layout
//!
//! - `handle.rs`: `OrchestratorHandle`, and the reader that answers reads without the supervisor
//! - `command.rs`: the host's commands, their errors, and event subscriptions
//! - `admission.rs`: the writer thread that validates and stores submitted runs
//! - `index.rs`: the in-memory index of stored runs behind `list_page`
//! - `config.rs`: `Config` (mirrored by `config/default.toml`); `config/`: the `[limits]`
//!   ceilings, `PILOTHOUSE_*` environment overrides, where the host's model key may go,
//!   the `[server]` section
//! - `request.rs`: the run request contract, parsing with field paths, validation
//! - `run.rs`: run ids, states, outcomes and `RunStatus`
//! - `event.rs`: run events and the append-then-broadcast event log
//! - `record.rs`: the per-run record shared by a run's actors
//! - `guard.rs`: destination guardrails
//! - `driver.rs`: the `Driver` trait and the script driver
//! - `caps.rs`: `[limits] max_result_bytes` / `max_data_bytes`, cut after the scrub
//! - `scrub.rs`: the run's one credential scrubber (every encoding, identifying prefixes)
//! - `store.rs`: the run store (directory by default); `recovery.rs`: start-up recovery
//! - `page_driver.rs` / `chromium.rs`: the browser seam and its Chromium implementation;
//!   `chromium/egress.rs` keeps its packets on the run's proxy, `download.rs` +
//!   `chromium/downloads.rs` refuse or keep the files a page downloads

mod admission;
mod agent;
mod blinders;
mod browser;
mod caps;
mod chromium;
mod command;
mod config;
mod download;
mod driver;
mod engine;
mod event;
mod finalizer;
mod guard;
mod handle;
mod index;
mod page_driver;
mod playbook;
mod pool;
mod proxy;
mod record;
mod recording;
mod recovery;
mod request;
mod router;
mod run;
mod scrub;
mod session;
mod store;
mod supervisor;
mod yaml;

pub use chromium::ChromiumLauncher;
pub use command::{
    CancelAck, CancelError, Command, EngineStats, EventSubscription, PoolStats, ShutdownReport,
    SubmitError,
};
pub use config::{
    API_KEY_ENV, AgentConfig, BrowserConfig, Config, ConfigError, EngineTimeouts, GuardrailFloor,
    Isolation, LimitsConfig, ObserveCaps, PlaybookConfig, RecordingConfig, RegistryConfig,
    RunDefaults, ServerConfig, SettleConfig,
};
pub use download::{AllowedDownloads, Download, DownloadOutcome, DownloadPolicy, DownloadSink};
pub use engine::{Engine, StartError};
pub use event::{ActionFailure, EventKind, RunEvent};
pub use guard::{Severity, StuckSpec, TaskKind, is_private_ip};
pub use handle::{EventsError, OrchestratorHandle, Unavailable};
pub use index::{ListQuery, RunPage};
pub use page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, PageDriver,
};
pub use playbook::{
    OnFailure, ParamType, Parameter, Playbook, SelectorSpec, Step, Verify, load as load_playbook,
    parse_yaml as parse_playbook,
};
pub use recording::{Artifact, Manifest};
pub use recovery::RecoveryReport;
pub use request::{
    Action, AgentSpec, DownloadSpec, DriverSpec, EffectiveLimits, ExtractMode, FieldError,
    GuardrailSpec, InvalidRequest, Limits, PlaybookSpec, RecordingSpec, RunRequest,
    ScrollDirection, Secret, Viewport, WaitState,
};
pub use run::{
    ErrorCode, FinalizeError, RecordingInfo, RecoveryInfo, RunError, RunId, RunOutcome, RunState,
    RunStatus, TokenUsage,
};
pub use scrub::{MIN_PREFIX_CHARS, Scrubber};
pub use store::{DirStore, LogWriter, RunStore};
