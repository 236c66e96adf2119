//! Request validation: everything serde cannot check, each problem naming its field and fix.

use std::collections::BTreeMap;

use super::{Action, AgentSpec, FieldError, InvalidRequest, Limits, PlaybookSpec, Secret};
use crate::config::AgentConfig;

pub(super) struct Validator<'a> {
    errors: Vec<FieldError>,
    credentials: &'a BTreeMap<String, Secret>,
}

impl<'a> Validator<'a> {
    pub(super) fn new(credentials: &'a BTreeMap<String, Secret>) -> Self {
        Self {
            errors: Vec::new(),
            credentials,
        }
    }

    pub(super) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub(super) fn finish(self) -> Result<(), InvalidRequest> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidRequest {
                errors: self.errors,
            })
        }
    }

    pub(super) fn url(&mut self, field: &str, value: &str) {
        match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => self.push(
                field,
                format!(
                    "must be an http or https URL with a host, got scheme `{}`",
                    u.scheme()
                ),
            ),
            Err(e) => self.push(
                field,
                format!(
                    "is not a valid absolute URL ({e}); write it like https://example.com/path"
                ),
            ),
        }
    }

    /// An agent driver: a directive, a model and an endpoint (here or in the config), a usable
    /// step budget and a compilable output schema.
    pub(super) fn agent(&mut self, agent: &AgentSpec, config: &AgentConfig) {
        if agent.directive.trim().is_empty() {
            self.push(
                "driver.directive",
                "must not be empty; say what the agent should do",
            );
        }
        if agent
            .model
            .as_deref()
            .or(config.model.as_deref())
            .is_none_or(str::is_empty)
        {
            self.push(
                "driver.model",
                "no model named; set it here or `model` under [agent] in the config",
            );
        }
        match agent.base_url.as_deref().or(config.base_url.as_deref()) {
            None => self.push(
                "driver.base_url",
                "no model endpoint; set it here or `base_url` under [agent] in the config \
                 (e.g. https://api.openai.com/v1)",
            ),
            Some(url) => self.url("driver.base_url", url),
        }
        if agent.max_steps == Some(0) {
            self.push("driver.max_steps", "must be at least 1");
        }
        if let Some(schema) = &agent.output_schema {
            if let Err(e) = jsonschema::validator_for(schema) {
                self.push(
                    "driver.output_schema",
                    format!("is not a valid JSON Schema: {e}"),
                );
            }
        }
    }

    /// A playbook driver: the playbook loads and is valid, the parameters satisfy it, its
    /// credentials exist.
    pub(super) fn playbook(&mut self, spec: &PlaybookSpec, config: &crate::config::Config) {
        let playbook = match spec.load(config) {
            Ok(playbook) => playbook,
            Err(e) => return self.errors.push(e),
        };
        let prefix = match &spec.playbook {
            serde_json::Value::String(id) if !id.contains('\n') => format!("playbook {id}: "),
            _ => "driver.playbook.".to_owned(),
        };
        for problem in playbook.problems() {
            self.push(format!("{prefix}{}", problem.field), problem.message);
        }
        if let Err(errors) = playbook.resolve_params(&spec.params) {
            self.errors.extend(errors);
        }
        for (i, step) in playbook.steps.iter().enumerate() {
            let credential = step.params.get("credential_ref").and_then(|v| v.as_str());
            if let Some(name) = credential {
                if !self.credentials.contains_key(name) {
                    self.push(
                        format!("{prefix}steps[{i}].credential_ref"),
                        format!(
                            "no credential named `{name}`; add it to the request's `credentials`"
                        ),
                    );
                }
            }
        }
    }

    pub(super) fn selector(&mut self, field: String, value: &str) {
        if value.trim().is_empty() {
            self.push(
                field,
                "must not be empty; give a CSS selector such as #submit",
            );
        } else if value.len() > 2000 {
            self.push(field, "is longer than 2000 characters");
        }
    }

    pub(super) fn store_as(&mut self, field: String, value: &Option<String>) {
        if let Some(name) = value {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            if !ok {
                self.push(
                    field,
                    "must be 1-64 characters of letters, digits, `_`, `-` or `.`",
                );
            }
        }
    }

    pub(super) fn action(&mut self, at: &str, action: &Action, nested: bool) {
        match action {
            Action::Goto { url } => self.url(&format!("{at}.url"), url),
            Action::Click { selector } | Action::Hover { selector } => {
                self.selector(format!("{at}.selector"), selector)
            }
            Action::Type {
                selector,
                text,
                credential_ref,
            } => {
                if let Some(s) = selector {
                    self.selector(format!("{at}.selector"), s);
                }
                match (text, credential_ref) {
                    (Some(_), Some(_)) => {
                        self.push(at, "give either `text` or `credential_ref`, not both")
                    }
                    (None, None) => self.push(at, "needs `text` or `credential_ref`"),
                    (None, Some(name)) if !self.credentials.contains_key(name) => self.push(
                        format!("{at}.credential_ref"),
                        format!(
                            "no credential named `{name}`; add it to the request's `credentials`"
                        ),
                    ),
                    _ => {}
                }
            }
            Action::PressKey { key } => {
                if chromiumoxide::keys::get_key_definition(key).is_none() {
                    self.push(
                        format!("{at}.key"),
                        format!("unknown key `{key}`; use a KeyboardEvent.key name such as Enter, Tab or a"),
                    );
                }
            }
            Action::Scroll {
                amount, selector, ..
            } => {
                if let Some(s) = selector {
                    self.selector(format!("{at}.selector"), s);
                }
                if amount.is_some_and(|a| !(1..=100).contains(&a)) {
                    self.push(format!("{at}.amount"), "must be between 1 and 100");
                }
            }
            Action::Select {
                selector,
                value,
                label,
            } => {
                self.selector(format!("{at}.selector"), selector);
                if value.is_some() == label.is_some() {
                    self.push(at, "give exactly one of `value` or `label`");
                }
            }
            Action::WaitFor {
                selector,
                timeout_ms,
                ..
            } => {
                self.selector(format!("{at}.selector"), selector);
                if timeout_ms.is_some_and(|ms| !(1..=600_000).contains(&ms)) {
                    self.push(format!("{at}.timeout_ms"), "must be between 1 and 600000");
                }
            }
            Action::Extract {
                selector, store_as, ..
            } => {
                if let Some(s) = selector {
                    self.selector(format!("{at}.selector"), s);
                }
                self.store_as(format!("{at}.store_as"), store_as);
            }
            Action::Evaluate { script, store_as } => {
                if script.trim().is_empty() {
                    self.push(format!("{at}.script"), "must not be empty");
                }
                self.store_as(format!("{at}.store_as"), store_as);
            }
            Action::Observe { store_as } => self.store_as(format!("{at}.store_as"), store_as),
            Action::Screenshot { .. } => {}
            Action::Sequence { steps } => {
                if nested {
                    self.push(at, "a sequence cannot contain another sequence");
                } else if steps.is_empty() {
                    self.push(format!("{at}.steps"), "must list at least one action");
                }
                if !nested {
                    for (i, step) in steps.iter().enumerate() {
                        self.action(&format!("{at}.steps[{i}]"), step, true);
                    }
                }
            }
        }
    }

    pub(super) fn limits(&mut self, limits: &Limits) {
        let ranges: [(&str, Option<u64>, u64, u64); 4] = [
            ("limits.timeout_seconds", limits.timeout_seconds, 1, 86_400),
            (
                "limits.max_steps",
                limits.max_steps.map(u64::from),
                1,
                10_000,
            ),
            (
                "limits.action_timeout_ms",
                limits.action_timeout_ms,
                1,
                600_000,
            ),
            (
                "limits.navigation_timeout_ms",
                limits.navigation_timeout_ms,
                1,
                600_000,
            ),
        ];
        for (field, value, min, max) in ranges {
            if let Some(v) = value {
                if !(min..=max).contains(&v) {
                    self.push(field, format!("must be between {min} and {max}, got {v}"));
                }
            }
        }
    }
}
