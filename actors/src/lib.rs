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
//! The map from each concept to its file is the "Concept → file" table in the repository's
//! README.md; `scripts/check_structure.py` (run by CI) fails when a module file is missing
//! from it, when sibling modules import each other in a cycle, or when a file or function
//! outgrows its limit. Modules are layered, data at the bottom: `run`, `event`, `request`
//! (the contract) and `config` import no behaviour; actors sit at the top.

mod admission;
mod admit;
mod agent;
mod api_call;
mod auto;
mod blinders;
mod browser;
mod caps;
mod chromium;
mod cluster;
mod command;
mod config;
mod download;
mod driver;
mod engine;
mod event;
mod event_log;
mod export;
mod finalizer;
mod guard;
mod handle;
mod html;
mod index;
mod llm;
mod llm_extract;
mod page_driver;
#[cfg(feature = "postgres")]
mod pg;
mod playbook;
mod pool;
mod proxy;
mod record;
mod recording;
mod recovery;
mod request;
mod router;
mod routing;
mod run;
mod safety;
mod scrub;
mod selector;
mod session;
mod sessions;
mod store;
mod supervisor;
mod yaml;

pub use chromium::ChromiumLauncher;
pub use cluster::{ClaimedRun, EnqueueError, NewRun, SharedCancel, SharedRuns};
pub use command::{
    CancelAck, CancelError, Command, EngineStats, EventSubscription, ShutdownReport, SubmitError,
};
pub use config::{
    API_KEY_ENV, AgentConfig, BrowserConfig, Config, ConfigError, EngineTimeouts, GuardrailFloor,
    LimitsConfig, ObserveCaps, PlaybookConfig, RecordingConfig, RegistryConfig, RunDefaults,
    SafetyConfig, ServerConfig, SessionsConfig, SettleConfig, StoreBackend, StoreConfig,
};
pub use download::{AllowedDownloads, Download, DownloadOutcome, DownloadPolicy, DownloadSink};
pub use engine::{Engine, StartError};
pub use event::{ActionFailure, EventKind, RunEvent, Severity};
pub use export::{ExportedPlaybook, export_playbook};
pub use guard::is_private_ip;
pub use handle::{EventsError, OrchestratorHandle, Unavailable};
pub use html::escape_html;
pub use index::{ListQuery, RunPage};
pub use page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, OriginStorage, PageDriver, StorageItem, StorageState, StoredCookie,
};
#[cfg(feature = "postgres")]
pub use pg::PgStore;
pub use playbook::{
    PlaybookFormat, load as load_playbook, parse_yaml as parse_playbook,
    parse_yaml_with_format as parse_playbook_with_format, yaml_format as playbook_yaml_format,
};
pub use pool::PoolStats;
pub use recording::{Artifact, Manifest};
pub use recovery::RecoveryReport;
pub use request::{
    Action, ActionKind, AgentSpec, ApiCall, ApiCookies, ApiResponse, AutoSpec, DownloadSpec,
    DriverSpec, EffectiveLimits, ExecutionMode, ExtractMode, FieldError, GuardrailSpec,
    HeaderValue, InvalidRequest, Isolation, Limits, OnFailure, ParamType, Parameter, Playbook,
    PlaybookGuardrails, PlaybookSpec, RecordingSpec, ResponseMode, RunRequest, ScrollDirection,
    Secret, SelectorSpec, Step, StuckSpec, TaskKind, Verify, Viewport, WaitState,
};
pub use request::{
    AuthBlock, AuthMode, AuthSuccess, CaptureBlock, CookieCapture, SessionSpec, StorageCapture,
    StorageScope,
};
pub use request::{GuardrailOverrides, Profile, ProfileSpec, ReasoningEffort};
pub use run::{
    ErrorCode, FinalizeError, RecordingInfo, RecoveryInfo, RouteInfo, RunError, RunId, RunOutcome,
    RunState, RunStatus, TokenUsage,
};
pub use scrub::{MIN_PREFIX_CHARS, Scrubber};
pub use store::{DirStore, Durable, LogWriter, RunStore};
pub use yaml::parse_yaml_value;
