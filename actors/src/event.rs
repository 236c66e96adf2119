//! Run events: what a run's event log holds, one `RunEvent` per line of `events.jsonl`, each
//! with a gap-free `seq` starting at 1. Data only: the append-then-broadcast log that numbers,
//! writes and publishes them is `event_log.rs`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::run::{RunId, RunState, RunStatus};

/// One event of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// The run it belongs to.
    pub run_id: RunId,
    /// 1-based, gap-free within the run.
    pub seq: u64,
    /// When it was appended.
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl RunEvent {
    /// True for the run's last event.
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, EventKind::Finished { .. })
    }
}

/// What settling after an action waited for, and for how long (from the end of the action's
/// input to its return). Settling costs what the action started: `nothing` means one read of
/// the page and no wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleReport {
    /// What the action started, and so what was waited for.
    pub waited: SettleWait,
    /// Milliseconds spent settling.
    pub ms: u64,
}

/// What an action started in the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettleWait {
    /// No navigation, request or DOM change: the action returned after one read.
    Nothing,
    /// Requests or DOM changes, waited for until quiet (bounded).
    Changes,
    /// A new document, waited for until loaded and quiet (bounded).
    Navigation,
}

/// An action's failure, as events and drivers see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionFailure {
    /// `ACTION_FAILED`, `GUARDRAIL_BLOCKED`, `TIMEOUT`, `CANCELLED`, `BROWSER_CRASHED`.
    pub code: crate::run::ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

/// What an event says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The run was admitted; `position` is its place in the queue (0: starts at once).
    Queued {
        /// Runs ahead of it in the queue.
        position: usize,
    },
    /// The run changed lifecycle state (starting, running).
    State {
        /// The new state.
        state: RunState,
    },
    /// The run's browser is ready.
    BrowserReady {
        /// Launch and page creation time.
        launch_ms: u64,
    },
    /// An action finished, successfully or not.
    Action {
        /// 1-based step number.
        step: u32,
        /// The action's name (`goto`, `click`...).
        action: String,
        /// A short summary of the input; secrets never appear here.
        input: String,
        /// Wall time of the action, guard checks included.
        duration_ms: u64,
        /// Whether it succeeded.
        success: bool,
        /// A short result text on success.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
        /// The failure, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ActionFailure>,
        /// Path of a screenshot, relative to the run's directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        screenshot: Option<String>,
        /// What settling after the action waited for, for the actions that settle.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settle: Option<SettleReport>,
    },
    /// The main frame landed on a new URL.
    Navigated {
        /// The landing URL.
        url: String,
    },
    /// A guardrail refused something.
    GuardrailBlocked {
        /// Which check (`scheme`, `domain`, `private_network`...).
        check: String,
        /// Why, for people.
        reason: String,
        /// The refused URL or action.
        target: String,
    },
    /// Stuck detection noticed a pattern; at `stop` the run ends with STUCK.
    Stuck {
        /// hint, warning or stop.
        severity: Severity,
        /// repetition, cycle, failure_cluster, url_revisit or consecutive_errors.
        pattern: String,
        /// What was noticed, for people and models.
        message: String,
    },
    /// A page downloaded a file: refused, saved into the recording, or stopped at its cap.
    Download(crate::download::Download),
    /// A free-form message from the engine.
    Log {
        /// `info`, `warn` or `error`.
        level: String,
        /// The message.
        message: String,
    },
    /// The terminal event: carries the final status. Always the run's last event.
    Finished {
        /// The committed final status.
        status: Box<RunStatus>,
    },
}

impl EventKind {
    /// The `type` tag as it appears in JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Queued { .. } => "queued",
            Self::State { .. } => "state",
            Self::BrowserReady { .. } => "browser_ready",
            Self::Action { .. } => "action",
            Self::Navigated { .. } => "navigated",
            Self::GuardrailBlocked { .. } => "guardrail_blocked",
            Self::Stuck { .. } => "stuck",
            Self::Download(_) => "download",
            Self::Log { .. } => "log",
            Self::Finished { .. } => "finished",
        }
    }
}

/// How serious a stuck detection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A nudge for the driver.
    Hint,
    /// A strong nudge.
    Warning,
    /// The run ends with STUCK.
    Stop,
}
