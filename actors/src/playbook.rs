//! Playbooks: YAML scripts with parameters, selector fallbacks, verification and recovery. The
//! format is data in the request contract (`request/playbook.rs`); this module loads it,
//! validates it (`playbook/validate.rs`) and runs it (`playbook/run.rs`).
//!
//! A playbook is loaded from the config's playbook dir (`<dir>/<id>.yaml`) or given inline in
//! the request, parsed with field paths, and validated before any browser starts: every problem
//! names its step and field (`steps[2].selector.primary: ...`). `{name}` in any string of a step
//! is replaced by the parameter's value (recursively); a step's `store_as` result becomes a
//! parameter for the steps after it.

use std::path::Path;

use serde_json::Value;

use crate::config::Config;
use crate::request::{Action, ActionKind, FieldError, Playbook, PlaybookSpec, Step};

mod binding;
mod checks;
pub(crate) mod run;
mod validate;

pub(crate) use binding::{bind, bind_str};

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
            value @ serde_json::Value::Object(_) => serde_path_to_error::deserialize(value.clone())
                .map_err(|e| FieldError {
                    field: format!("driver.playbook.{}", e.path()),
                    message: e.into_inner().to_string(),
                }),
            other => Err(FieldError {
                field: "driver.playbook".into(),
                message: format!("must be a playbook id, YAML text or an object, got {other}"),
            }),
        }
    }
}

impl Step {
    /// The step as an action, with `selector` (the chosen candidate) put in.
    pub(crate) fn action_with(&self, selector: Option<&str>) -> Result<Action, FieldError> {
        let mut map = self.params.clone();
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

    /// What this step does, for messages.
    pub(crate) fn label(&self) -> String {
        self.description
            .clone()
            .unwrap_or_else(|| self.action.clone())
    }
}

#[cfg(test)]
mod tests;
