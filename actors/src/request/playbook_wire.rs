//! The wire form of a playbook [`Step`]: the action's arguments written beside `action`
//! (Pilothouse's spelling) or under a `params:` map (the reference's), folded into one map.
//! The reference's empty strings (`store_as: ""`, `description: ""`) mean "not set".

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{OnFailure, SelectorSpec, Step, Verify};

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(raw: RawStep) -> Result<Self, Self::Error> {
        let mut params = raw.rest;
        match raw.params {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) => {
                for (key, value) in given {
                    if params.contains_key(&key) {
                        return Err(format!(
                            "`{key}` is given both under `params` and beside `action`; keep one"
                        ));
                    }
                    params.insert(key, value);
                }
            }
            Some(other) => {
                return Err(format!(
                    "`params` must be a mapping of the action's arguments (url, text, key, \
                     mode...), got {other}"
                ));
            }
        }
        let mut selector = raw.selector;
        // The reference's `wait_for` may name its element under `params`.
        if selector.is_none()
            && let Some(Value::String(s)) = params.get("selector")
        {
            selector = Some(SelectorSpec::Plain(s.clone()));
            params.remove("selector");
        }
        let set = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(Step {
            action: raw.action,
            selector,
            verify: raw.verify,
            on_failure: raw.on_failure,
            failure_message: set(raw.failure_message),
            store_as: set(raw.store_as),
            description: set(raw.description),
            params,
        })
    }
}

/// A step as written: [`Step`]'s fields, plus the reference's `params:` map.
#[derive(Deserialize)]
pub(super) struct RawStep {
    action: String,
    #[serde(default)]
    selector: Option<SelectorSpec>,
    #[serde(default)]
    verify: Option<Verify>,
    #[serde(default)]
    on_failure: OnFailure,
    #[serde(default)]
    failure_message: Option<String>,
    #[serde(default)]
    store_as: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// The reference's spelling of the action's arguments.
    #[serde(default)]
    params: Option<Value>,
    /// Pilothouse's spelling: the arguments beside `action`.
    #[serde(flatten)]
    rest: Map<String, Value>,
}
