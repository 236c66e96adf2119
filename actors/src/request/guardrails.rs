//! A request's `guardrails`: where the run may go, what kind of task it is (and so which actions
//! it may take), and the thresholds of stuck detection. Data, plus the shape check of a domain
//! pattern that requests, playbooks and the config's `[guardrails]` floors share. Enforcing
//! them is `guard.rs`; combining floors, request and playbook is `guard/precedence.rs`.

use serde::{Deserialize, Serialize};

use super::{Action, ActionKind};

/// Validates one `allowed_domains` or `blocked_domains` entry.
pub(crate) fn check_domain_pattern(pattern: &str) -> Result<(), String> {
    let p = normalize_domain(pattern);
    if p.is_empty() {
        return Err("must not be empty".into());
    }
    if p.contains('/') || (p.contains(':') && !p.starts_with('[')) || p.contains(' ') {
        return Err(format!(
            "`{pattern}` is not a host name; write `example.com`, not a URL"
        ));
    }
    Ok(())
}

/// Lower-cases and strips a trailing dot and a leading `*.`.
pub(crate) fn normalize_domain(pattern: &str) -> String {
    let p = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    p.strip_prefix("*.").map(str::to_owned).unwrap_or(p)
}

/// How many kinds `task` allows (the length of its name list).
const fn allowed_count(task: TaskKind) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < ActionKind::ALL.len() {
        if task.allows_kind(ActionKind::ALL[i]) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The names of the kinds `task` allows, in [`ActionKind::ALL`]'s order.
const fn names_allowed_by<const N: usize>(task: TaskKind) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < ActionKind::ALL.len() {
        if task.allows_kind(ActionKind::ALL[i]) {
            out[n] = ActionKind::ALL[i].name();
            n += 1;
        }
        i += 1;
    }
    out
}

const READ_NAMES: [&str; allowed_count(TaskKind::Read)] = names_allowed_by(TaskKind::Read);
const NAVIGATE_NAMES: [&str; allowed_count(TaskKind::Navigate)] =
    names_allowed_by(TaskKind::Navigate);
const INTERACT_NAMES: [&str; allowed_count(TaskKind::Interact)] =
    names_allowed_by(TaskKind::Interact);
const FILL_FORM_NAMES: [&str; allowed_count(TaskKind::FillForm)] =
    names_allowed_by(TaskKind::FillForm);

impl TaskKind {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Navigate => "navigate",
            Self::Interact => "interact",
            Self::FillForm => "fill_form",
        }
    }

    /// Whether this kind of run may take actions of `kind` (the reference system's goal table).
    pub const fn allows_kind(self, kind: ActionKind) -> bool {
        use ActionKind::*;
        match self {
            Self::Interact | Self::FillForm => true,
            // `llm_extract` reads the page as `extract` does; `api_request` may change what a
            // site holds (any method), so only the kinds that may act allow it.
            Self::Read => match kind {
                Goto | Click | Scroll | Hover | WaitFor | Extract | Observe | Screenshot
                | LlmExtract | Sequence => true,
                Type | PressKey | Select | Evaluate | ApiRequest => false,
            },
            Self::Navigate => match kind {
                Goto | Click | Scroll | Hover | Observe | Screenshot | Sequence => true,
                Type | PressKey | Select | WaitFor | Extract | Evaluate | ApiRequest
                | LlmExtract => false,
            },
        }
    }

    /// Whether this kind of run may take `action` (a sequence: every step).
    pub fn allows(self, action: &Action) -> bool {
        match action {
            Action::Sequence { steps } => {
                self.allows_kind(ActionKind::Sequence) && steps.iter().all(|s| self.allows(s))
            }
            other => self.allows_kind(other.kind()),
        }
    }

    /// The actions this kind of run may take, by name, in [`ActionKind::ALL`]'s order.
    pub fn allowed_names(self) -> &'static [&'static str] {
        match self {
            Self::Read => &READ_NAMES,
            Self::Navigate => &NAVIGATE_NAMES,
            Self::Interact => &INTERACT_NAMES,
            Self::FillForm => &FILL_FORM_NAMES,
        }
    }
}

/// Thresholds of stuck detection; every field has the reference's default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StuckSpec {
    /// On or off; unset: on for model-driven runs, off for scripts (which repeat on purpose).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Recent actions considered.
    pub window_size: usize,
    /// The same action this many times in a row: a hint.
    pub repeat_hint: usize,
    /// … a warning.
    pub repeat_warning: usize,
    /// … the run stops.
    pub repeat_stop: usize,
    /// Longest cycle looked for (cycles of 2..=this actions).
    pub cycle_max_length: usize,
    /// Times a cycle must repeat to count.
    pub cycle_repeats: usize,
    /// A URL seen again after at least this many actions is a revisit.
    pub revisit_gap: usize,
    /// Recent actions looked at for failures.
    pub failure_window: usize,
    /// Failures among them that make a cluster.
    pub failure_threshold: usize,
}

impl Default for StuckSpec {
    fn default() -> Self {
        Self {
            enabled: None,
            window_size: 12,
            repeat_hint: 3,
            repeat_warning: 5,
            repeat_stop: 7,
            cycle_max_length: 3,
            cycle_repeats: 3,
            revisit_gap: 5,
            failure_window: 5,
            failure_threshold: 3,
        }
    }
}

impl StuckSpec {
    /// Whether every threshold is the default (`enabled` aside).
    pub(crate) fn thresholds_are_default(&self) -> bool {
        *self
            == Self {
                enabled: self.enabled,
                ..Self::default()
            }
    }
}

/// Default of `guardrails.max_urls_visited`.
pub(crate) const DEFAULT_MAX_URLS_VISITED: u32 = 50;
/// Default of `guardrails.max_consecutive_errors`.
pub(crate) const DEFAULT_MAX_CONSECUTIVE_ERRORS: u32 = 5;

/// Where a run may go. Private networks are blocked unless explicitly allowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSpec {
    /// Hosts the run may visit; `d` covers `d` and `*.d`. Empty: any public host.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Hosts the run may never visit, as globs (`*.x` also matches `x`); they win over
    /// `allowed_domains`. Unset: a built-in list (government, banking, payment, webmail and
    /// social sites) that applies only when `allowed_domains` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_domains: Option<Vec<String>>,
    /// Allow loopback, private, link-local and similar addresses (default: blocked).
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Distinct pages the run may land on (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_urls_visited: Option<u32>,
    /// Failed actions in a row before the run stops with STUCK (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_errors: Option<u32>,
    /// What the run is for; read-only kinds cannot type, select or evaluate. Unset: interact,
    /// or what `[safety] classify_directives` decides for an agent's directive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kind: Option<TaskKind>,
    /// Stuck detection thresholds.
    #[serde(default)]
    pub stuck: StuckSpec,
}

impl GuardrailSpec {
    /// The task kind in force: the one set, else interact.
    pub fn kind(&self) -> TaskKind {
        self.task_kind.unwrap_or_default()
    }
}

/// What a run is for; narrows the actions it may take (the reference system's goal table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Reading pages: goto, click, scroll, hover, wait_for, extract, observe, screenshot.
    Read,
    /// Moving around: goto, click, scroll, hover, observe, screenshot.
    Navigate,
    /// Anything (the default).
    #[default]
    Interact,
    /// Anything, forms included.
    FillForm,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_kinds_allow_what_the_goal_table_says() {
        assert_eq!(
            TaskKind::Read.allowed_names(),
            [
                "goto",
                "click",
                "scroll",
                "hover",
                "wait_for",
                "extract",
                "observe",
                "screenshot",
                "llm_extract",
                "sequence"
            ]
        );
        assert_eq!(
            TaskKind::Navigate.allowed_names(),
            [
                "goto",
                "click",
                "scroll",
                "hover",
                "observe",
                "screenshot",
                "sequence"
            ]
        );
        let every: Vec<&str> = ActionKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(TaskKind::Interact.allowed_names(), every);
        assert_eq!(TaskKind::FillForm.allowed_names(), every);
    }
}
