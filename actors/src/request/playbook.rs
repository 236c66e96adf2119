//! The playbook format: a YAML script with parameters, selector fallbacks, verification and
//! recovery, as a request or a playbook file carries it. Data only: loading (from the config's
//! playbook dir, or inline), validation and execution are `playbook.rs` and `playbook/`.
//!
//! One format, two spellings: the reference system's files load unchanged (action arguments
//! under `params:`, `expect_*` checks, `key_press`, `on_failure: llm_recover`, `auth_required`,
//! `start_url: ""`, `inject_into`), and Pilothouse's own spellings (arguments beside `action`,
//! checks without `expect_`, `on_failure: agent`) stay valid as aliases. Both parse into the
//! same types; `playbook_wire.rs` folds a step's `params:` map in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{AuthBlock, CaptureBlock, GuardrailSpec, StuckSpec, TaskKind};

/// `parameters[].required`'s default.
fn yes() -> bool {
    true
}

/// `verify.timeout_ms`'s default.
fn verify_timeout() -> u64 {
    5_000
}

/// An empty string is the same as no value (the reference writes `start_url: ""`,
/// `inject_into: ""`).
fn empty_is_none<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(de)?;
    Ok(value.filter(|s| !s.is_empty()))
}

impl PlaybookGuardrails {
    /// As a request's guardrails, for narrowing (`enable_llm_action_check` has no counterpart:
    /// every action passes the rule-based guard).
    pub fn spec(&self) -> GuardrailSpec {
        GuardrailSpec {
            allowed_domains: self.allowed_domains.clone(),
            blocked_domains: self.blocked_domains.clone(),
            allow_private_networks: self.allow_private_networks,
            max_urls_visited: self.max_urls_visited,
            max_consecutive_errors: self.max_consecutive_errors,
            task_kind: Some(self.task_kind),
            stuck: self.stuck.clone(),
        }
    }
}

impl SelectorSpec {
    /// Primary first, then the fallbacks.
    pub fn candidates(&self) -> Vec<&str> {
        match self {
            Self::Plain(s) => vec![s],
            Self::Full {
                primary, fallbacks, ..
            } => std::iter::once(primary.as_str())
                .chain(fallbacks.iter().map(String::as_str))
                .collect(),
        }
    }
}

/// A playbook, as written in YAML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Its id (the file name without `.yaml`).
    pub id: String,
    /// A title for people.
    #[serde(default)]
    pub name: String,
    /// What it achieves; an agent taking over a failed step reads it.
    #[serde(default)]
    pub description: String,
    /// Free-form tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The values a run must or may give.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Opened before the first step (parameters are bound in it); unset or `""`: the
    /// request's `start_url`, if any.
    #[serde(
        default,
        deserialize_with = "empty_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_url: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Narrows the request's guardrails for this run, the agent hand-off included (never
    /// widens them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<PlaybookGuardrails>,
    /// Whether the site needs a signed-in session (default true, as in the reference). Recorded
    /// with the run; a playbook without an `auth` block runs without a login step.
    #[serde(default = "yes")]
    pub auth_required: bool,
    /// The reference's sign-in block (`request/playbook_auth.rs`): run before the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthBlock>,
    /// Cookies and storage values read after `auth` into secret parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureBlock>,
}

/// A playbook's own `guardrails`: the reference's keys (`allowed_domains`, `blocked_domains`,
/// `max_urls_visited`, `max_consecutive_errors`, `allow_private_networks`,
/// `enable_llm_action_check`) and Pilothouse's `task_kind` and `stuck`; any other key is
/// refused. They only ever narrow the request's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookGuardrails {
    /// Hosts the run may visit (intersected with the request's).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Hosts the run may never visit (added to the request's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_domains: Option<Vec<String>>,
    /// Private networks; only when the request allows them too (default false).
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Distinct pages; at most the request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_urls_visited: Option<u32>,
    /// Failed actions in a row; at most the request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_consecutive_errors: Option<u32>,
    /// The reference's model check of each action. Recorded; Pilothouse checks every action
    /// with its rule-based guard either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_llm_action_check: Option<bool>,
    /// What the run is for; the stricter of this and the request's applies.
    #[serde(default)]
    pub task_kind: TaskKind,
    /// Stuck detection thresholds.
    #[serde(default)]
    pub stuck: StuckSpec,
}

/// A parameter a playbook takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// Referenced as `{name}` in steps.
    pub name: String,
    /// `string` (default), `int` or `selector_text`.
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    /// What it means.
    #[serde(default)]
    pub description: String,
    /// A regex that reads the value out of an `auto` run's directive (its group 1, or the
    /// whole match); without a capture group it also checks values given whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A run must give it unless it has a default (default: true).
    #[serde(default = "yes")]
    pub required: bool,
    /// The value when a run gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// A dot path into the steps (`steps.2.params.text`) the value is also set at when the
    /// steps are bound; steps count from 0, as in the reference.
    #[serde(
        default,
        deserialize_with = "empty_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub inject_into: Option<String>,
}

/// A parameter's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Any text.
    #[default]
    String,
    /// An integer (a JSON number or digits).
    Int,
    /// Text that ends up in a CSS selector (quotes and brackets are refused).
    SelectorText,
}

/// One step: an action with its parameters, plus how to find its element, check its effect and
/// recover from its failure. Read through its wire form (`request/playbook_wire.rs`), which
/// folds the reference's `params:` map in beside `action`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "super::playbook_wire::RawStep")]
pub struct Step {
    /// The action: goto, click, type, press_key, scroll, select, hover, wait_for, extract,
    /// evaluate, observe or screenshot, or the reference's `key_press` (`text` typed into the
    /// selector or at the focus, and/or `key` pressed).
    pub action: String,
    /// The element, with fallbacks; a plain string is a primary with no fallbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorSpec>,
    /// Checked after the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// What happens when the step fails: `abort`, `retry` (once, after a pause) or
    /// `llm_recover` (alias `agent`: retry, then hand the run to the agent); default
    /// `llm_recover`, which acts as `retry` when no agent is configured.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// The run's error message when this step fails for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Keeps the step's result as a parameter (and in the status's `data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_as: Option<String>,
    /// What the step does, for people and for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The action's own fields (`url`, `text`, `key`, `value`, `script`, `mode`...), written
    /// beside `action` or under `params:`.
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

/// How to find a step's element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SelectorSpec {
    /// Just a selector (any form `selector.rs` reads).
    Plain(String),
    /// A primary selector, fallbacks probed in order, and a description.
    Full {
        /// Tried first.
        primary: String,
        /// Tried in order when the primary matches nothing.
        #[serde(default)]
        fallbacks: Vec<String>,
        /// What the element is.
        #[serde(default)]
        description: Option<String>,
    },
}

/// Checks after a step; each given one must hold within `timeout_ms`. Each is spelled as in
/// the reference (`expect_url_contains`) or without the prefix (`url_contains`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The page's URL contains this.
    #[serde(
        default,
        alias = "expect_url_contains",
        skip_serializing_if = "Option::is_none"
    )]
    pub url_contains: Option<String>,
    /// This element is visible.
    #[serde(
        default,
        alias = "expect_element_visible",
        skip_serializing_if = "Option::is_none"
    )]
    pub element_visible: Option<String>,
    /// This element is gone (hidden or detached).
    #[serde(
        default,
        alias = "expect_element_gone",
        skip_serializing_if = "Option::is_none"
    )]
    pub element_gone: Option<String>,
    /// The page's visible text contains this (case and runs of white space aside, as the
    /// reference's `text=` match).
    #[serde(
        default,
        alias = "expect_text_on_page",
        skip_serializing_if = "Option::is_none"
    )]
    pub text_on_page: Option<String>,
    /// Bound on the checks (default 5000).
    #[serde(default = "verify_timeout")]
    pub timeout_ms: u64,
}

/// What a failed step leads to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Fail the run at once.
    Abort,
    /// Retry once after a pause, then fail.
    Retry,
    /// Retry once, then hand the run to the agent (the reference's `llm_recover`).
    #[default]
    #[serde(alias = "llm_recover")]
    Agent,
}
