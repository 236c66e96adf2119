//! Orchestrator configuration: `Config::default()` is the embedded default and
//! `config/default.toml` mirrors it field for field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod agent;
mod agent_key;
mod browser;
mod env;
mod guardrails;
mod limits;
mod safety;
mod server;
mod sessions;
mod store;
pub(crate) mod upload_backends;

pub use agent::AgentConfig;
pub use browser::BrowserConfig;
pub use guardrails::GuardrailFloor;
pub use limits::LimitsConfig;
pub use safety::SafetyConfig;
pub use server::{API_KEY_ENV, ServerConfig};
pub use sessions::SessionsConfig;
pub use store::{StoreBackend, StoreConfig};

/// Checks `[recording] upload_url`'s scheme and shape (at config validation, and again when
/// the uploader is built).
pub(crate) fn check_upload_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        format!("`{url}` is not a URL ({e}); use s3://bucket/prefix, gs://, az:// or file:///path")
    })?;
    match parsed.scheme() {
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{url}` names no bucket or container"));
            }
            upload_backends::check_enabled(url, parsed.scheme())
        }
        "file" => Ok(()),
        other => Err(format!(
            "unsupported scheme `{other}`; use s3://, gs://, az:// or file:///"
        )),
    }
}

/// Everything an orchestrator needs to know before its first run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The Chromium executable; found automatically when unset (see [`Config::resolve_chromium`]).
    pub chromium_path: Option<PathBuf>,
    /// Where each run's `status.json`, `events.jsonl` and recording live.
    pub runs_dir: PathBuf,
    /// Parent of the per-run Chromium profile directories. Every process we launch carries this
    /// prefix in its `--user-data-dir`, which is how our own processes are told apart.
    pub profile_root: PathBuf,
    /// Runs executing at once; further runs wait in the queue.
    pub max_concurrent_runs: usize,
    /// Runs that may wait; past it, `submit` answers `QueueFull` at once.
    pub queue_capacity: usize,
    /// Extra Chromium switches, without the leading `--`.
    pub chromium_args: Vec<String>,
    /// JPEG quality of screenshots, 1..=100.
    pub screenshot_quality: u8,
    /// Per-run limits used when a request leaves them unset.
    pub defaults: RunDefaults,
    /// Size caps of page observations and markdown extracts.
    pub observe: ObserveCaps,
    /// How long actions wait for the page to settle.
    pub settle: SettleConfig,
    /// Engine-side bounds.
    pub timeouts: EngineTimeouts,
    /// How many finished runs stay in memory.
    pub registry: RegistryConfig,
    /// What runs record by default, and where recordings are uploaded.
    pub recording: RecordingConfig,
    /// The model endpoint and loop bounds of agent runs.
    pub agent: AgentConfig,
    /// Where playbooks live and how their steps are probed and retried.
    pub playbooks: PlaybookConfig,
    /// `pilothouse serve`: the HTTP API (the engine itself ignores it).
    pub server: ServerConfig,
    /// Ceilings a request's own limits, credentials and labels cannot exceed.
    pub limits: LimitsConfig,
    /// Floors under every run's guardrails that no request or playbook can loosen.
    pub guardrails: GuardrailFloor,
    /// Context or process isolation, and the warm pool.
    pub browser: BrowserConfig,
    /// Where runs are kept: files for one node, PostgreSQL for several.
    pub store: StoreConfig,
    /// Saved browser sessions: their dir and the key they are sealed with.
    pub sessions: SessionsConfig,
    /// Optional utility-model checks: directive classifier, click validator.
    pub safety: SafetyConfig,
}

/// Playbook runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybookConfig {
    /// Where `"playbook": "<id>"` finds `<id>.yaml`.
    pub dir: PathBuf,
    /// Pause before a failed step's one retry.
    pub retry_pause_ms: u64,
    /// How long each candidate selector is probed before the next fallback is tried.
    pub selector_probe_ms: u64,
}

impl Default for PlaybookConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("config/playbooks"),
            retry_pause_ms: 1_000,
            selector_probe_ms: 800,
        }
    }
}

/// Finished runs stay in memory up to a count and an age; past either, they are served from
/// the store (status, list and events work the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Finished runs kept in memory.
    pub max_finished_runs: usize,
    /// Seconds a finished run stays in memory.
    pub max_finished_age_seconds: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_finished_runs: 1_000,
            max_finished_age_seconds: 3_600,
        }
    }
}

/// What each run records unless its request says otherwise, and where recordings go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// A JPEG screenshot after every action.
    pub screenshots: bool,
    /// `actions.jsonl`: every action with its input (secrets redacted), timing and result.
    pub actions: bool,
    /// The page's final DOM.
    pub final_dom: bool,
    /// `report.html`: a self-contained timeline of the run for people.
    pub report: bool,
    /// Upload each recording when its run ends.
    pub upload: bool,
    /// Where recordings are uploaded: `s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix` (credentials from the usual environment variables) or
    /// `file:///abs/path`. Unset: `recordings_dir`.
    pub upload_url: Option<String>,
    /// The local upload destination used when `upload_url` is unset.
    pub recordings_dir: PathBuf,
    /// Extra object_store options, e.g. `aws_endpoint = "http://127.0.0.1:9000"`,
    /// `aws_allow_http = "true"`, `aws_region = "us-east-1"`.
    pub upload_options: std::collections::BTreeMap<String, String>,
    /// Attempts per artifact before the upload is recorded as failed.
    pub upload_attempts: u32,
    /// First pause between attempts; doubled after each.
    pub upload_backoff_ms: u64,
    /// Bound on one run's whole upload.
    pub upload_timeout_ms: u64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            screenshots: true,
            actions: true,
            final_dom: true,
            report: true,
            upload: true,
            upload_url: None,
            recordings_dir: PathBuf::from("recordings"),
            upload_options: Default::default(),
            upload_attempts: 3,
            upload_backoff_ms: 200,
            upload_timeout_ms: 30_000,
        }
    }
}

/// Per-run limits used when a request leaves them unset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunDefaults {
    /// The run's deadline.
    pub run_timeout_seconds: u64,
    /// The most actions a run may dispatch.
    pub max_steps: u32,
    /// Bound on each action.
    pub action_timeout_ms: u64,
    /// Bound on each navigation's load.
    pub navigation_timeout_ms: u64,
}

/// Size caps of what `observe` and `extract` (markdown) hand back, in characters. The reference
/// system uses 3500 for a snapshot, 2500 for the one attached after goto/click, 6000 for a page map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObserveCaps {
    /// Whole `observe` result.
    pub snapshot_chars: usize,
    /// Main-content section of a snapshot.
    pub content_chars: usize,
    /// Visible interactive elements listed.
    pub max_interactive: usize,
    /// Rows shown per table before "(N more rows)".
    pub table_rows: usize,
    /// Each element's text, label or attribute value.
    pub field_chars: usize,
    /// A markdown extract.
    pub markdown_chars: usize,
}

impl Default for ObserveCaps {
    fn default() -> Self {
        Self {
            snapshot_chars: 3_500,
            content_chars: 1_500,
            max_interactive: 50,
            table_rows: 5,
            field_chars: 50,
            markdown_chars: 6_000,
        }
    }
}

/// Settling after goto, click, key presses, select and evaluate. An action that started no
/// navigation, no request and no DOM change does not wait at all; one that did waits for what
/// it started, each wait bounded, none failing the action (the reference system waits load
/// ≤1.5 s, network idle ≤1.5 s, then a stable DOM).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettleConfig {
    /// The load event after DOMContentLoaded.
    pub load_ms: u64,
    /// Waiting for the requests in flight to finish.
    pub network_idle_ms: u64,
    /// An extra grace without any request in flight before the network counts as quiet (0:
    /// none; raise it for pages that chain requests through timers).
    pub network_quiet_ms: u64,
    /// Waiting for the DOM to stop changing.
    pub dom_stable_ms: u64,
    /// How long the page runs between two DOM checks, on top of one turn of its task queue
    /// (0: just that turn).
    pub dom_sample_ms: u64,
}

impl Default for SettleConfig {
    fn default() -> Self {
        Self {
            load_ms: 1_500,
            network_idle_ms: 1_500,
            network_quiet_ms: 0,
            dom_stable_ms: 1_500,
            dom_sample_ms: 0,
        }
    }
}

/// Engine-side bounds that are not part of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineTimeouts {
    /// Chromium start until its DevTools endpoint answers and a page exists.
    pub launch_ms: u64,
    /// Graceful browser close before the process group is killed.
    pub close_ms: u64,
    /// Any actor `call` that is not an action (status queries, close requests).
    pub actor_call_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            chromium_path: None,
            runs_dir: PathBuf::from("runs"),
            profile_root: std::env::temp_dir().join("pilothouse-profiles"),
            max_concurrent_runs: 4,
            queue_capacity: 64,
            chromium_args: Vec::new(),
            screenshot_quality: 55,
            defaults: RunDefaults::default(),
            observe: ObserveCaps::default(),
            settle: SettleConfig::default(),
            timeouts: EngineTimeouts::default(),
            registry: RegistryConfig::default(),
            recording: RecordingConfig::default(),
            agent: AgentConfig::default(),
            playbooks: PlaybookConfig::default(),
            server: ServerConfig::default(),
            limits: LimitsConfig::default(),
            guardrails: GuardrailFloor::default(),
            browser: BrowserConfig::default(),
            store: StoreConfig::default(),
            sessions: SessionsConfig::default(),
            safety: SafetyConfig::default(),
        }
    }
}

impl Default for RunDefaults {
    fn default() -> Self {
        Self {
            run_timeout_seconds: 600,
            max_steps: 50,
            action_timeout_ms: 5_000,
            navigation_timeout_ms: 7_000,
        }
    }
}

impl Default for EngineTimeouts {
    fn default() -> Self {
        Self {
            launch_ms: 20_000,
            close_ms: 5_000,
            actor_call_ms: 5_000,
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a `Config`.
    #[error("invalid config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the key.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid config: {field}: {message}")]
    Invalid {
        /// The key.
        field: &'static str,
        /// What to do about it.
        message: String,
    },
    /// A `PILOTHOUSE_*` environment override could not be applied.
    #[error("{var}: {message}")]
    Env {
        /// The variable, `PILOTHOUSE_AGENT__MAX_STEPS`.
        var: String,
        /// The key it sets, `agent.max_steps`.
        key: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// No Chromium could be found.
    #[error(
        "no Chromium found: set `chromium_path` in the config or PILOTHOUSE_CHROMIUM, \
         or install it (Debian: apt-get install chromium); looked in {looked}"
    )]
    NoChromium {
        /// The places searched.
        looked: String,
    },
}

/// Places Chromium is usually installed, best first. Debian's `/usr/lib/chromium/chromium` skips
/// the shell wrapper in `/usr/bin/chromium`.
const CHROMIUM_CANDIDATES: &[&str] = &[
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
];

impl Config {
    /// Reads a TOML file; missing keys take their defaults.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text; missing keys take their defaults.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<inline>"),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| {
            Err(ConfigError::Invalid {
                field,
                message: message.to_owned(),
            })
        };
        if self.max_concurrent_runs == 0 {
            return invalid("max_concurrent_runs", "must be at least 1");
        }
        if !(1..=100).contains(&self.screenshot_quality) {
            return invalid("screenshot_quality", "must be between 1 and 100");
        }
        if self.defaults.max_steps == 0 {
            return invalid("defaults.max_steps", "must be at least 1");
        }
        if self.defaults.run_timeout_seconds == 0 {
            return invalid("defaults.run_timeout_seconds", "must be at least 1");
        }
        if self.agent.max_steps == 0 {
            return invalid("agent.max_steps", "must be at least 1");
        }
        if self.agent.breaker_threshold == 0 {
            return invalid("agent.breaker_threshold", "must be at least 1");
        }
        if self.recording.upload_attempts == 0 {
            return invalid("recording.upload_attempts", "must be at least 1");
        }
        if let Err((field, message)) = self.server.validate() {
            return invalid(field, message);
        }
        if let Some(url) = &self.recording.upload_url
            && let Err(message) = check_upload_url(url)
        {
            return invalid("recording.upload_url", &message);
        }
        self.guardrails.check()?;
        self.browser.check()?;
        self.store.check()?;
        self.safety.check(&self.agent)?;
        self.limits.check(self)
    }

    /// The Chromium to launch: `chromium_path`, else `PILOTHOUSE_CHROMIUM`, else the first of
    /// the usual install paths that exists.
    pub fn resolve_chromium(&self) -> Result<PathBuf, ConfigError> {
        let given = self
            .chromium_path
            .clone()
            .map(|p| ("chromium_path", p))
            .or_else(|| {
                std::env::var_os("PILOTHOUSE_CHROMIUM").map(|p| ("PILOTHOUSE_CHROMIUM", p.into()))
            });
        if let Some((source, path)) = given {
            return if path.is_file() {
                Ok(path)
            } else {
                Err(ConfigError::Invalid {
                    field: source,
                    message: format!("{} is not an executable file", path.display()),
                })
            };
        }
        CHROMIUM_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| ConfigError::NoChromium {
                looked: CHROMIUM_CANDIDATES.join(", "),
            })
    }
}

#[cfg(test)]
mod tests;
