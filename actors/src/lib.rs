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
//! - `request.rs`: the run request contract, data only (actions and `ActionKind`, guardrails and
//!   task kinds, the playbook format), parsed with field paths
//! - `admit.rs`: a request checked against the config and admitted as a run (its playbook
//!   loaded once, its guardrails narrowed, its limits resolved)
//! - `run.rs`: run ids, states, outcomes and `RunStatus`
//! - `event.rs`: run events (data); `event_log.rs`: the append-then-broadcast event log
//! - `record.rs`: the per-run record shared by a run's actors
//! - `guard.rs`: destination guardrails
//! - `driver.rs`: the `Driver` trait and the script driver; `session/start.rs` chooses a run's
//!   driver; `agent.rs` (with `llm.rs`, the model client) and `playbook.rs` are the others
//! - `caps.rs`: `[limits] max_result_bytes` / `max_data_bytes`, cut after the scrub
//! - `scrub.rs`: the run's one credential scrubber (every encoding, identifying prefixes)
//! - `store.rs`: the run store (directory by default); `recovery.rs`: start-up recovery
//! - `page_driver.rs` / `chromium.rs`: the browser seam and its Chromium implementation;
//!   `chromium/egress.rs` keeps its packets on the run's proxy, `download.rs` +
//!   `chromium/downloads.rs` refuse or keep the files a page downloads

mod admission;
mod admit;
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
mod event_log;
mod finalizer;
mod guard;
mod handle;
mod index;
mod llm;
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

pub use chromium::ChromiumLauncher;
pub use command::{
    CancelAck, CancelError, Command, EngineStats, EventSubscription, ShutdownReport, SubmitError,
};
pub use config::{
    API_KEY_ENV, AgentConfig, BrowserConfig, Config, ConfigError, EngineTimeouts, GuardrailFloor,
    LimitsConfig, ObserveCaps, PlaybookConfig, RecordingConfig, RegistryConfig, RunDefaults,
    ServerConfig, SettleConfig,
};
pub use download::{AllowedDownloads, Download, DownloadOutcome, DownloadPolicy, DownloadSink};
pub use engine::{Engine, StartError};
pub use event::{ActionFailure, EventKind, RunEvent, Severity};
pub use guard::is_private_ip;
pub use handle::{EventsError, OrchestratorHandle, Unavailable};
pub use index::{ListQuery, RunPage};
pub use page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, PageDriver,
};
pub use playbook::{load as load_playbook, parse_yaml as parse_playbook};
pub use pool::PoolStats;
pub use recording::{Artifact, Manifest};
pub use recovery::RecoveryReport;
pub use request::{
    Action, ActionKind, AgentSpec, DownloadSpec, DriverSpec, EffectiveLimits, ExtractMode,
    FieldError, GuardrailSpec, InvalidRequest, Isolation, Limits, OnFailure, ParamType, Parameter,
    Playbook, PlaybookSpec, RecordingSpec, RunRequest, ScrollDirection, Secret, SelectorSpec, Step,
    StuckSpec, TaskKind, Verify, Viewport, WaitState,
};
pub use run::{
    ErrorCode, FinalizeError, RecordingInfo, RecoveryInfo, RunError, RunId, RunOutcome, RunState,
    RunStatus, TokenUsage,
};
pub use scrub::{MIN_PREFIX_CHARS, Scrubber};
pub use store::{DirStore, LogWriter, RunStore};
