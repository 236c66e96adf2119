//! The playbook format: a YAML script with parameters, selector fallbacks, verification and
//! recovery, as a request or a playbook file carries it. Data only: loading (from the config's
//! playbook dir, or inline), validation and execution are `playbook.rs` and `playbook/`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::GuardrailSpec;

/// `parameters[].required`'s default.
fn yes() -> bool {
    true
}

/// `verify.timeout_ms`'s default.
fn verify_timeout() -> u64 {
    5_000
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
    /// Opened before the first step (parameters are bound in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Narrows the request's guardrails for this run (never widens them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<GuardrailSpec>,
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
    /// A regex the value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A run must give it unless it has a default (default: true).
    #[serde(default = "yes")]
    pub required: bool,
    /// The value when a run gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
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
/// recover from its failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The action: goto, click, type, press_key, scroll, select, hover, wait_for, extract,
    /// evaluate, observe or screenshot.
    pub action: String,
    /// The element, with fallbacks; a plain string is a primary with no fallbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorSpec>,
    /// Checked after the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// What happens when the step fails: `abort`, `retry` (once, after a pause) or `agent`
    /// (retry, then hand the run to the agent); default `agent`, which acts as `retry` when no
    /// agent is configured.
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
    /// The action's own fields (`url`, `text`, `key`, `value`, `script`, `mode`...).
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

/// How to find a step's element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SelectorSpec {
    /// Just a CSS selector.
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

/// Checks after a step; each given one must hold within `timeout_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The page's URL contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_contains: Option<String>,
    /// This element is visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_visible: Option<String>,
    /// This element is gone (hidden or detached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_gone: Option<String>,
    /// The page's text contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Retry once, then hand the run to the agent.
    #[default]
    Agent,
}
