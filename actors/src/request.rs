//! The run request: the JSON contract a host submits and its parsing with field paths. The
//! contract is data and imports no behaviour: its actions and their kinds (`request/action.rs`,
//! `request/action_kind.rs`, the `api_request` call in `request/api.rs`), guardrails and task
//! kinds (`request/guardrails.rs`), the playbook format (`request/playbook.rs`). Checking a
//! request against the config and admitting it as a run is `admit.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod action;
mod action_kind;
mod api;
mod auto;
mod downloads;
mod driver_wire;
mod guardrails;
mod isolation;
mod playbook;
mod playbook_auth;
mod playbook_wire;
mod profile;
mod session;

pub use action::{Action, ExtractMode, ScrollDirection, Secret, WaitState};
pub(crate) use action::{clip, map_strings};
pub use action_kind::ActionKind;
pub use api::{ApiCall, ApiCookies, ApiResponse, HeaderValue, ResponseMode};
pub(crate) use auto::Route;
pub use auto::{AutoSpec, ExecutionMode};
pub use downloads::DownloadSpec;
pub(crate) use guardrails::{
    DEFAULT_MAX_CONSECUTIVE_ERRORS, DEFAULT_MAX_URLS_VISITED, check_domain_pattern,
    normalize_domain,
};
pub use guardrails::{GuardrailSpec, StuckSpec, TaskKind};
pub use isolation::Isolation;
pub use playbook::{
    OnFailure, ParamType, Parameter, Playbook, PlaybookGuardrails, SelectorSpec, Step, Verify,
};
pub use playbook_auth::{
    AuthBlock, AuthMode, AuthSuccess, CaptureBlock, CookieCapture, StorageCapture, StorageScope,
};
pub(crate) use profile::is_profile_name;
pub use profile::{GuardrailOverrides, Profile, ProfileSpec, ReasoningEffort};
pub use session::SessionSpec;

/// A run to execute: what drives it, where it may go, and its limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Opened before the driver's first action (as a guarded `goto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// What decides the run's actions.
    pub driver: DriverSpec,
    /// Where the run may go.
    #[serde(default)]
    pub guardrails: GuardrailSpec,
    /// Time and step limits; unset fields take the config's defaults.
    #[serde(default)]
    pub limits: Limits,
    /// The page's viewport.
    #[serde(default)]
    pub viewport: Viewport,
    /// Free-form labels copied into the status.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What this run records; unset fields take the config's `[recording]` defaults.
    #[serde(default)]
    pub recording: RecordingSpec,
    /// Named secrets for `type` with `credential_ref`. Values never leave the browser: they are
    /// not serialized, logged, evented or recorded, and are scrubbed from anything read back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, Secret>,
    /// Whether the run may keep files a page downloads (default: every download refused).
    #[serde(default, skip_serializing_if = "DownloadSpec::is_default")]
    pub downloads: DownloadSpec,
    /// `"context"` (a fresh context in a warm, shared Chromium) or `"process"` (a Chromium of
    /// its own); unset: the config's `[browser] isolation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// A saved session to restore before the first action and/or to save when the run
    /// completes (`{"load": "ID", "save": "ID"}`).
    #[serde(default, skip_serializing_if = "SessionSpec::is_empty")]
    pub session: SessionSpec,
}

/// What decides a run's actions. Tagged by `type`: `script`, `agent`, `playbook` or `auto`.
///
/// Deserialized through [`RawDriverSpec`], a plain struct: serde buffers internally tagged
/// enums, which would hide the path of an error inside `steps` (`driver.steps[3]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    try_from = "driver_wire::RawDriverSpec"
)]
#[non_exhaustive]
pub enum DriverSpec {
    /// A fixed list of actions, run in order; the first failure fails the run.
    Script {
        /// The actions.
        steps: Vec<Action>,
    },
    /// A model that decides each action, through an OpenAI-compatible Chat Completions API.
    Agent(AgentSpec),
    /// A YAML playbook with parameters, selector fallbacks, verification and recovery.
    Playbook(PlaybookSpec),
    /// A directive routed to a playbook by its tags, or to the agent (`request/auto.rs`).
    Auto(AutoSpec),
}

/// A playbook run: which playbook, its parameters, and the agent that may take over a step
/// that fails twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaybookSpec {
    /// An id (loaded from the config's `playbooks.dir`), the playbook's YAML text, or the
    /// playbook itself as an object.
    pub playbook: serde_json::Value,
    /// Parameter values, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// The model endpoint for `on_failure: agent` hand-offs (unset fields: `[agent]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSpec>,
}

/// An agent run: the task in words, and optionally the model, its endpoint and the answer's
/// shape. Unset fields take the config's `[agent]` values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// The task, in words, as the model receives it.
    pub directive: String,
    /// The model name the endpoint expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tool calls before the run ends with `MAX_STEPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// A JSON Schema the final answer must match (the `done` tool's `answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
    /// The API base (`…/v1`); `/chat/completions` is appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The API key; never serialized, logged or sent anywhere but the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// Screenshots go to the model as image parts (the latest two kept); unset:
    /// `[agent] vision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<bool>,
    /// Sent as `reasoning_effort`; unset: `[agent] reasoning_effort` (none: not sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// A profile name (a file under `[agent] profiles_dir`) or an inline profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileSpec>,
}

impl DriverSpec {
    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Script { .. } => "script",
            Self::Agent(_) => "agent",
            Self::Playbook(_) => "playbook",
            Self::Auto(_) => "auto",
        }
    }

    /// True for drivers where a model decides the actions (stuck detection is on by default).
    pub fn is_model_driven(&self) -> bool {
        match self {
            Self::Script { .. } | Self::Playbook(_) => false,
            Self::Agent(_) => true,
            Self::Auto(spec) => spec.execution_mode != ExecutionMode::PlaybookOnly,
        }
    }
}

/// Per-run recording switches; each unset one takes the config's `[recording]` default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSpec {
    /// A JPEG screenshot after every action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshots: Option<bool>,
    /// `actions.jsonl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<bool>,
    /// The page's final DOM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_dom: Option<bool>,
    /// `report.html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<bool>,
    /// Upload the recording when the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<bool>,
}

/// A request the engine admitted (`admit.rs`, the only maker): checked against the config, its
/// playbook loaded once and inlined, its guardrails narrowed by the playbook and the operator's
/// floors, its limits and recording switches resolved.
#[derive(Clone, Debug)]
pub(crate) struct AdmittedRun {
    pub(crate) request: RunRequest,
    pub(crate) limits: EffectiveLimits,
    pub(crate) recording: RecordingPlan,
}

/// The recording switches of one run, defaults applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordingPlan {
    pub(crate) screenshots: bool,
    pub(crate) actions: bool,
    pub(crate) final_dom: bool,
    pub(crate) report: bool,
    pub(crate) upload: bool,
}

/// Per-run limits; `None` takes the config's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The run's deadline, from the moment it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The most actions the run may dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// Bound on each action (element waits included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_timeout_ms: Option<u64>,
    /// Bound on each navigation's load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub navigation_timeout_ms: Option<u64>,
}

/// The limits of a run once the config's defaults are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// The run's deadline.
    pub timeout_seconds: u64,
    /// The most actions the run may dispatch.
    pub max_steps: u32,
    /// Bound on each action.
    pub action_timeout_ms: u64,
    /// Bound on each navigation's load.
    pub navigation_timeout_ms: u64,
}

/// The page's size in CSS pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    /// Width, 100..=7680.
    pub width: u32,
    /// Height, 100..=4320.
    pub height: u32,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
        }
    }
}

/// One problem with a request: the field's path and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// `driver.steps[3].selector`.
    pub field: String,
    /// `must not be empty`.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("invalid run request: {}", display_list(.errors))]
pub struct InvalidRequest {
    /// The problems, in field order.
    pub errors: Vec<FieldError>,
}

fn display_list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl InvalidRequest {
    /// One problem.
    pub(crate) fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}

impl RunRequest {
    /// Parses a request from JSON; errors name the field's path (`driver.steps[2].action`).
    pub fn from_json(text: &str) -> Result<Self, InvalidRequest> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "request".to_owned()
            } else {
                path
            };
            InvalidRequest::single(field, strip_position(&e.into_inner().to_string()))
        })
    }
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
