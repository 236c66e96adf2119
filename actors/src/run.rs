//! Run identity, lifecycle states, terminal outcomes and the persisted `RunStatus`.
//!
//! These types are the public contract of a run: they are what `status.json` holds and what the
//! terminal `finished` event carries.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A run's identifier: a UUIDv7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(Uuid);

impl RunId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id as a UUID (a store's key).
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The run id a store's UUID key names.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RunId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a run is in its lifecycle. Terminal states never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Admitted, waiting for a concurrency slot.
    Queued,
    /// Has a slot; its browser is being launched.
    Starting,
    /// Its driver is executing actions.
    Running,
    /// The driver finished successfully.
    Completed,
    /// The run ended with an error (see `RunStatus::error`).
    Failed,
    /// The run passed its deadline.
    TimedOut,
    /// The run was cancelled by the host or by shutdown.
    Cancelled,
    /// Found non-terminal in the store after the host restarted.
    Interrupted,
}

impl RunState {
    /// True for states that never change again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Starting | Self::Running)
    }

    /// The lower-case name used in JSON, metrics labels and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Machine-readable reason a run did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request failed validation.
    InvalidRequest,
    /// The browser could not be launched or prepared.
    SetupFailed,
    /// The browser process died or its connection broke mid-run.
    BrowserCrashed,
    /// A guardrail refused an action or a landing URL.
    GuardrailBlocked,
    /// An action failed (selector missing, timeout, script error...).
    ActionFailed,
    /// Stuck detection stopped the run.
    Stuck,
    /// The run passed its deadline.
    Timeout,
    /// The run was cancelled.
    Cancelled,
    /// The model endpoint failed.
    LlmError,
    /// A bug in Pilothouse: an actor failed unexpectedly.
    InternalError,
    /// The run was found unfinished after a restart.
    Interrupted,
    /// The node running it stopped renewing its lease (it died, stalled or lost the database);
    /// another node ended the run.
    NodeLost,
    /// An agent used all its steps without finishing the task.
    MaxSteps,
}

impl fmt::Display for ErrorCode {
    /// The code as it appears in JSON: `GUARDRAIL_BLOCKED`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self).ok();
        f.write_str(text.as_ref().and_then(|v| v.as_str()).unwrap_or("UNKNOWN"))
    }
}

/// The error part of a terminal outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// Structured context (step, action, selector...), `null` when there is none.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl RunError {
    /// An error without details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// The same error with structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// How a run ended: its terminal state and, unless it completed, why.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// A terminal state.
    pub state: RunState,
    /// Set for every state but `completed`.
    pub error: Option<RunError>,
}

impl RunOutcome {
    /// The run finished successfully.
    pub fn completed() -> Self {
        Self {
            state: RunState::Completed,
            error: None,
        }
    }

    /// The run failed with `error`.
    pub fn failed(error: RunError) -> Self {
        Self {
            state: RunState::Failed,
            error: Some(error),
        }
    }

    /// The run passed its deadline.
    pub fn timed_out(limit_seconds: u64) -> Self {
        Self {
            state: RunState::TimedOut,
            error: Some(RunError::new(
                ErrorCode::Timeout,
                format!("run exceeded its {limit_seconds} s deadline"),
            )),
        }
    }

    /// The run was cancelled, for `why`.
    pub fn cancelled(why: &str) -> Self {
        Self {
            state: RunState::Cancelled,
            error: Some(RunError::new(ErrorCode::Cancelled, why)),
        }
    }
}

/// A failure in one finalization step, recorded rather than dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalizeError {
    /// The step: `capture`, `close_browser`, `upload`, `event_log`, `status`.
    pub step: String,
    /// What went wrong.
    pub message: String,
}

impl FinalizeError {
    /// A failure of finalization step `step`.
    pub fn new(step: &str, message: impl Into<String>) -> Self {
        Self {
            step: step.to_owned(),
            message: message.into(),
        }
    }
}

/// The state of a run, as `status(run_id)` returns it and `status.json` stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// The run.
    pub run_id: RunId,
    /// Its lifecycle state.
    pub state: RunState,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it left the queue.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached its terminal state.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// `finished_at - started_at` (or `- created_at` for runs that never started).
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// How many actions were dispatched.
    pub action_count: u32,
    /// The values kept with `store_as`.
    #[serde(default)]
    pub data: BTreeMap<String, Value>,
    /// Why the run did not complete.
    #[serde(default)]
    pub error: Option<RunError>,
    /// The host's labels from the request.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The driver type (`script`, `playbook`, `agent`).
    pub driver: String,
    /// The main frame's URL after the last action.
    #[serde(default)]
    pub last_url: Option<String>,
    /// Sequence number of the last event in the run's log.
    #[serde(default)]
    pub last_seq: u64,
    /// Finalization steps that failed; the run's outcome still stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalize_errors: Vec<FinalizeError>,
    /// Where the run's recording lives, once it is sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingInfo>,
    /// Model calls and tokens, for runs a model drove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// Set when a playbook step failed twice and the run was handed to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryInfo>,
    /// For `auto` runs: which path admission chose and why, and any hand-off to the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteInfo>,
}

/// How an `auto` run was routed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// The request's `execution_mode`.
    pub mode: String,
    /// `playbook` or `agent`: the path the run started on.
    pub path: String,
    /// The matched playbook's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    /// The playbook's tags found in the directive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_tags: Vec<String>,
    /// The parameters read from the directive (names only; values are in the request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extracted: Vec<String>,
    /// Why this path, in words.
    pub reason: String,
    /// Set when the playbook failed and the agent took over with the directive: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_off: Option<String>,
}

/// A playbook step the agent took over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryInfo {
    /// The failed step, 1-based.
    pub step: u32,
    /// Its action.
    pub action: String,
    /// Its error after the retry.
    pub error: String,
    /// Who took over (`agent`).
    pub handed_to: String,
    /// The step budget the agent got.
    pub max_steps: u32,
}

/// What a run's model calls cost, summed over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Successful model calls.
    pub calls: u32,
    /// Prompt tokens, as the endpoint reported them.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

impl std::ops::AddAssign<&TokenUsage> for TokenUsage {
    fn add_assign(&mut self, other: &TokenUsage) {
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// Where a run's recording lives and what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// The upload location when the upload succeeded (`s3://bucket/prefix/<run_id>/`), else
    /// the local directory.
    pub location: String,
    /// Whether `location` is the uploaded copy.
    pub uploaded: bool,
    /// The local copy, `runs/<run_id>/recording` (kept after upload).
    pub local_dir: std::path::PathBuf,
    /// Files listed in `manifest.json`.
    pub artifacts: usize,
    /// Their total size.
    pub bytes: u64,
}

impl RunStatus {
    /// The status of a run just admitted.
    pub fn new_queued(run_id: RunId, driver: &str, labels: BTreeMap<String, String>) -> Self {
        Self {
            run_id,
            state: RunState::Queued,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            duration_ms: None,
            action_count: 0,
            data: BTreeMap::new(),
            error: None,
            labels,
            driver: driver.to_owned(),
            last_url: None,
            last_seq: 0,
            finalize_errors: Vec::new(),
            recording: None,
            usage: None,
            recovery: None,
            route: None,
        }
    }

    /// Applies a terminal outcome and stamps the finish time and duration.
    pub fn finish(&mut self, outcome: RunOutcome) {
        let now = Utc::now();
        let since = self.started_at.unwrap_or(self.created_at);
        self.state = outcome.state;
        self.error = outcome.error;
        self.finished_at = Some(now);
        self.duration_ms = Some((now - since).num_milliseconds().max(0) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialize_as_snake_case_and_terminal_set_is_right() {
        let json = serde_json::to_string(&RunState::TimedOut).unwrap();
        assert_eq!(json, "\"timed_out\"");
        let terminal: Vec<_> = [
            RunState::Queued,
            RunState::Starting,
            RunState::Running,
            RunState::Completed,
            RunState::Failed,
            RunState::TimedOut,
            RunState::Cancelled,
            RunState::Interrupted,
        ]
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
        assert_eq!(terminal.len(), 5);
        assert!(!terminal.contains(&RunState::Running));
    }

    #[test]
    fn error_codes_use_screaming_snake_case() {
        let json = serde_json::to_string(&ErrorCode::GuardrailBlocked).unwrap();
        assert_eq!(json, "\"GUARDRAIL_BLOCKED\"");
    }

    #[test]
    fn run_id_round_trips_through_text() {
        let id = RunId::new();
        assert_eq!(id.to_string().parse::<RunId>().unwrap(), id);
    }
}
