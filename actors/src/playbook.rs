//! Playbooks: YAML scripts with parameters, selector fallbacks, verification and recovery. The
//! format is data in the request contract (`request/playbook.rs`); this module loads it,
//! validates it (`playbook/validate.rs`) and runs it (`playbook/run.rs`).
//!
//! A playbook is loaded from the config's playbook dir (`<dir>/<id>.yaml`) or given inline in
//! the request, parsed with field paths, and validated before any browser starts: every problem
//! names its step and field (`steps[2].selector.primary: ...`). `{name}` in any string of a step
//! is replaced by the parameter's value (recursively); a step's `store_as` result becomes a
//! parameter for the steps after it.
//!
//! The reference system's playbook files load unchanged: the same parser reads its spelling
//! and Pilothouse's (`request/playbook.rs`); `playbook/format.rs` says which one a file used,
//! `playbook/inject.rs` applies its `inject_into` paths, and its `key_press` step becomes a
//! `type` and/or a `press_key` here.

use std::path::Path;

use serde_json::Value;

use crate::config::Config;
use crate::request::{Action, ActionKind, FieldError, Playbook, PlaybookSpec, Step};

mod binding;
mod checks;
mod format;
mod inject;
pub(crate) mod run;
mod validate;

pub(crate) use binding::{bind, bind_str};
pub use format::PlaybookFormat;

/// The reference's typing step: `params.text` typed (into the selector, or at the focus)
/// and/or `params.key` pressed.
pub(crate) const KEY_PRESS: &str = "key_press";

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

/// Parses playbook YAML and says which spelling it is written in (see [`PlaybookFormat`]).
pub fn parse_yaml_with_format(text: &str) -> Result<(Playbook, PlaybookFormat), FieldError> {
    let playbook = parse_yaml(text)?;
    let document: Value = crate::yaml::from_str(text).unwrap_or(Value::Null);
    Ok((playbook, PlaybookFormat::detect(&document)))
}

/// Which spelling the YAML `text` is written in, when it is YAML at all (for messages about a
/// playbook that did not parse).
pub fn yaml_format(text: &str) -> Option<PlaybookFormat> {
    let document: Value = crate::yaml::from_str(text).ok()?;
    document
        .is_object()
        .then(|| PlaybookFormat::detect(&document))
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

impl PlaybookSpec {
    /// The playbook this spec names: parsed and loaded, not yet validated.
    pub fn load(&self, config: &Config) -> Result<Playbook, FieldError> {
        let inline = |e: FieldError| FieldError {
            field: format!("driver.playbook.{}", e.field),
            message: e.message,
        };
        match &self.playbook {
            serde_json::Value::String(text) if text.contains('\n') => {
                parse_yaml(text).map_err(inline)
            }
            serde_json::Value::String(id) => load(&config.playbooks.dir, id),
            serde_json::Value::Object(_) => self.inlined(),
            other => Err(FieldError {
                field: "driver.playbook".into(),
                message: format!("must be a playbook id, YAML text or an object, got {other}"),
            }),
        }
    }

    /// The playbook admission inlined into this spec, and only that: a running driver never
    /// reads a playbook file or parses YAML, so it executes exactly what was checked.
    pub(crate) fn inlined(&self) -> Result<Playbook, FieldError> {
        if !self.playbook.is_object() {
            return Err(FieldError {
                field: "driver.playbook".into(),
                message: "was not inlined at admission; submit the run through the engine".into(),
            });
        }
        serde_path_to_error::deserialize(&self.playbook).map_err(|e| FieldError {
            field: format!("driver.playbook.{}", e.path()),
            message: e.into_inner().to_string(),
        })
    }
}

impl Step {
    /// The step as an action, with `selector` (the chosen candidate) put in.
    pub(crate) fn action_with(&self, selector: Option<&str>) -> Result<Action, FieldError> {
        if self.action == KEY_PRESS {
            return self.key_press(selector);
        }
        let mut map = self.params.clone();
        if self.action == ActionKind::ApiRequest.name() && !map.contains_key("request") {
            // Pilothouse's spelling: the call's fields beside `action` (the reference's puts
            // them under `request:`).
            map = serde_json::Map::from_iter([("request".to_owned(), Value::Object(map))]);
        }
        map.insert("action".into(), Value::String(self.action.clone()));
        if let Some(sel) = selector {
            map.insert("selector".into(), Value::String(sel.to_owned()));
        }
        if let Some(name) = &self.store_as
            && ActionKind::from_name(&self.action).is_some_and(ActionKind::keeps_result)
        {
            map.insert("store_as".into(), Value::String(name.clone()));
        }
        serde_path_to_error::deserialize::<_, Action>(Value::Object(map)).map_err(|e| {
            let path = e.path().to_string();
            FieldError {
                field: if path == "." { String::new() } else { path },
                message: e.into_inner().to_string(),
            }
        })
    }

    /// A `key_press` step as actions: `text` typed into the selector (replacing its value) or
    /// at the focus, and/or `key` pressed at the focus (after the selector is visible, as the
    /// reference does); both: typed, then pressed.
    fn key_press(&self, selector: Option<&str>) -> Result<Action, FieldError> {
        let fields: KeyPress = serde_path_to_error::deserialize(Value::Object(self.params.clone()))
            .map_err(|e| {
                let path = e.path().to_string();
                FieldError {
                    field: if path == "." { String::new() } else { path },
                    message: e.into_inner().to_string(),
                }
            })?;
        let text = fields.text.filter(|t| !t.is_empty());
        let key = fields.key.filter(|k| !k.is_empty());
        let selector = selector.map(str::to_owned);
        let press = |key: String| Action::PressKey { key };
        Ok(match (text, key) {
            (Some(text), None) => Action::Type {
                selector,
                text: Some(text),
                credential_ref: None,
            },
            (None, Some(key)) => match selector {
                None => press(key),
                Some(selector) => Action::Sequence {
                    steps: vec![
                        Action::WaitFor {
                            selector,
                            state: crate::request::WaitState::Visible,
                            timeout_ms: None,
                        },
                        press(key),
                    ],
                },
            },
            (Some(text), Some(key)) => Action::Sequence {
                steps: vec![
                    Action::Type {
                        selector,
                        text: Some(text),
                        credential_ref: None,
                    },
                    press(key),
                ],
            },
            (None, None) => {
                return Err(FieldError {
                    field: "params".into(),
                    message: "key_press needs `text` (typed into the selector, or at the focus) \
                              or `key` (a key to press, such as Enter)"
                        .into(),
                });
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

/// A `key_press` step's arguments.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPress {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

#[cfg(test)]
mod tests;
