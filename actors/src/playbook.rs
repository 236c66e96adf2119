//! Playbooks: YAML scripts with parameters, selector fallbacks, verification and recovery.
//!
//! A playbook is loaded from the config's playbook dir (`<dir>/<id>.yaml`) or given inline in
//! the request, parsed with field paths, and validated before any browser starts: every problem
//! names its step and field (`steps[2].selector.primary: ...`). `{name}` in any string of a step
//! is replaced by the parameter's value (recursively); a step's `store_as` result becomes a
//! parameter for the steps after it. The driver that runs playbooks is in `playbook/run.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::request::{Action, FieldError, GuardrailSpec};

mod binding;
mod checks;

pub(crate) use binding::{bind, bind_str};
use binding::{is_param_name, references};
pub(crate) mod run;

use checks::{check_param, check_selector};

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

fn yes() -> bool {
    true
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

fn verify_timeout() -> u64 {
    5_000
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

/// Parses playbook YAML; the error names the field path (and the line).
pub fn parse_yaml(text: &str) -> Result<Playbook, FieldError> {
    crate::yaml::from_str(text).map_err(|e| FieldError {
        field: if e.path == "." {
            "playbook".into()
        } else {
            e.path
        },
        message: e.message,
    })
}

/// Loads `<dir>/<id>.yaml` (or `.yml`).
pub fn load(dir: &Path, id: &str) -> Result<Playbook, FieldError> {
    let valid_id = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_id {
        return Err(FieldError {
            field: "driver.playbook".into(),
            message: format!(
                "`{id}` is not a playbook id (letters, digits, `_`, `-`); give an id or the playbook inline"
            ),
        });
    }
    let path = ["yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("{id}.{ext}")))
        .find(|p| p.is_file())
        .ok_or_else(|| FieldError {
            field: "driver.playbook".into(),
            message: format!(
                "no playbook `{id}` in {} (looked for {id}.yaml and {id}.yml; set playbooks.dir)",
                dir.display()
            ),
        })?;
    let text = std::fs::read_to_string(&path).map_err(|e| FieldError {
        field: "driver.playbook".into(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    parse_yaml(&text)
}

impl Step {
    /// The step as an action, with `selector` (the chosen candidate) put in.
    pub(crate) fn action_with(&self, selector: Option<&str>) -> Result<Action, FieldError> {
        let mut map = self.params.clone();
        map.insert("action".into(), Value::String(self.action.clone()));
        if let Some(sel) = selector {
            map.insert("selector".into(), Value::String(sel.to_owned()));
        }
        if let Some(name) = &self.store_as {
            if matches!(self.action.as_str(), "extract" | "evaluate" | "observe") {
                map.insert("store_as".into(), Value::String(name.clone()));
            }
        }
        serde_path_to_error::deserialize::<_, Action>(Value::Object(map)).map_err(|e| {
            let path = e.path().to_string();
            FieldError {
                field: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
            }
        })
    }

    /// What this step does, for messages.
    pub(crate) fn label(&self) -> String {
        self.description
            .clone()
            .unwrap_or_else(|| self.action.clone())
    }
}

impl Playbook {
    /// Everything wrong with the playbook; empty when it is usable.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut push = |field: String, message: String| out.push(FieldError { field, message });
        if self.id.trim().is_empty() {
            push("id".into(), "must not be empty".into());
        }
        if self.steps.is_empty() {
            push("steps".into(), "must list at least one step".into());
        }
        let mut known: Vec<String> = Vec::new();
        for (i, p) in self.parameters.iter().enumerate() {
            if !is_param_name(&p.name) {
                push(
                    format!("parameters[{i}].name"),
                    "must be letters, digits and `_`".into(),
                );
            }
            if known.contains(&p.name) {
                push(
                    format!("parameters[{i}].name"),
                    format!("`{}` is declared twice", p.name),
                );
            }
            if let Some(pattern) = &p.pattern {
                if let Err(e) = regex::Regex::new(pattern) {
                    push(
                        format!("parameters[{i}].pattern"),
                        format!("is not a valid regex: {e}"),
                    );
                }
            }
            known.push(p.name.clone());
        }
        if let Some(url) = &self.start_url {
            let mut refs = Vec::new();
            references(&Value::String(url.clone()), &mut refs);
            for r in refs.iter().filter(|r| !known.contains(r)) {
                push("start_url".into(), format!("unknown parameter `{{{r}}}`"));
            }
        }
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("steps[{i}]");
            self.step_problems(&at, step, &known, &mut push);
            if let Some(name) = &step.store_as {
                known.push(name.clone());
            }
        }
        out
    }

    fn step_problems(
        &self,
        at: &str,
        step: &Step,
        known: &[String],
        push: &mut impl FnMut(String, String),
    ) {
        // A step is one action: every action but `sequence`.
        let actions =
            crate::agent::tools::offered(crate::guard::TaskKind::Interact.allowed_names());
        if !actions.contains(&step.action.as_str()) {
            push(
                format!("{at}.action"),
                format!(
                    "unknown action `{}`; use one of {}",
                    step.action,
                    actions.join(", ")
                ),
            );
            return;
        }
        let mut refs = Vec::new();
        references(&Value::Object(step.params.clone()), &mut refs);
        if let Some(sel) = &step.selector {
            for c in sel.candidates() {
                references(&Value::String(c.to_owned()), &mut refs);
            }
        }
        if let Some(v) = &step.verify {
            references(&serde_json::to_value(v).unwrap_or_default(), &mut refs);
        }
        for r in refs.iter().filter(|r| !known.contains(r)) {
            push(
                at.to_owned(),
                format!(
                    "unknown parameter `{{{r}}}`: declare it under parameters or store_as it in an earlier step"
                ),
            );
        }
        if let Some(sel) = &step.selector {
            if let SelectorSpec::Full { fallbacks, .. } = sel {
                for (j, f) in fallbacks.iter().enumerate() {
                    if let Err(m) = check_selector(f) {
                        push(format!("{at}.selector.fallbacks[{j}]"), m);
                    }
                }
            }
            let (field, primary) = match sel {
                SelectorSpec::Plain(s) => (format!("{at}.selector"), s),
                SelectorSpec::Full { primary, .. } => (format!("{at}.selector.primary"), primary),
            };
            if let Err(m) = check_selector(primary) {
                push(field, m);
            }
        }
        // The action must parse with its fields (parameters stand in as placeholders).
        let selector = step.selector.as_ref().map(|s| s.candidates()[0].to_owned());
        if let Err(e) = step.action_with(selector.as_deref()) {
            let field = if e.field.is_empty() {
                at.to_owned()
            } else {
                format!("{at}.{}", e.field)
            };
            push(field, e.message);
        }
        if let Some(v) = &step.verify {
            let none = v.url_contains.is_none()
                && v.element_visible.is_none()
                && v.element_gone.is_none()
                && v.text_on_page.is_none();
            if none {
                push(format!("{at}.verify"), "names no check; give url_contains, element_visible, element_gone or text_on_page".into());
            }
            if v.timeout_ms == 0 {
                push(
                    format!("{at}.verify.timeout_ms"),
                    "must be at least 1".into(),
                );
            }
        }
    }

    /// The parameter values for a run: the request's, checked against the declarations, plus
    /// defaults. Problems name `driver.params.<name>`.
    pub(crate) fn resolve_params(
        &self,
        given: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut values = BTreeMap::new();
        for name in given.keys() {
            if !self.parameters.iter().any(|p| &p.name == name) {
                errors.push(FieldError {
                    field: format!("driver.params.{name}"),
                    message: format!("playbook `{}` takes no parameter `{name}`", self.id),
                });
            }
        }
        for p in &self.parameters {
            let field = format!("driver.params.{}", p.name);
            let Some(value) = given.get(&p.name).or(p.default.as_ref()) else {
                if p.required {
                    errors.push(FieldError {
                        field,
                        message: format!("required by playbook `{}`: {}", self.id, p.description),
                    });
                }
                continue;
            };
            match check_param(p, value) {
                Ok(v) => {
                    values.insert(p.name.clone(), v);
                }
                Err(message) => errors.push(FieldError { field, message }),
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests;
