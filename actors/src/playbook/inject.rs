//! `parameters[].inject_into`: a parameter's value set at a dot path into the steps
//! (`steps.2.params.text`, `steps.0.selector.primary`, `steps.1.verify.expect_text_on_page`),
//! as the reference's files write them. Applied to each step as it is bound, after `{name}`
//! substitution (so an injected value is taken as it is); paths are checked at validation.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::request::{Parameter, Step};

/// A checked `inject_into` path: the step it points into, and the path inside that step as
/// [`Step`] serializes (the reference's `params.` prefix and `expect_` prefixes dropped).
#[derive(Debug, PartialEq)]
pub(super) struct InjectPath {
    pub(super) step: usize,
    pub(super) inside: Vec<String>,
}

/// Parses `steps.N.path...`; the error says what a path looks like.
pub(super) fn parse_path(path: &str) -> Result<InjectPath, String> {
    let shape = "write `steps.N.FIELD`, e.g. `steps.2.params.text` (steps count from 0)";
    let mut tokens = path.split('.');
    if tokens.next() != Some("steps") {
        return Err(format!("`{path}` does not start with `steps.`; {shape}"));
    }
    let step = tokens
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| format!("`{path}` has no step number after `steps.`; {shape}"))?;
    let mut inside: Vec<String> = tokens.map(str::to_owned).collect();
    if inside.first().is_some_and(|t| t == "params") {
        inside.remove(0);
    }
    if inside.first().is_some_and(|t| t == "verify")
        && let Some(check) = inside.get_mut(1)
        && let Some(plain) = check.strip_prefix("expect_")
    {
        *check = plain.to_owned();
    }
    if inside.is_empty() || inside.iter().any(String::is_empty) {
        return Err(format!("`{path}` names no field of the step; {shape}"));
    }
    Ok(InjectPath { step, inside })
}

/// `step` (the `index`th, counting from 0) with every parameter whose `inject_into` points
/// into it set to its value.
pub(super) fn inject(
    step: Step,
    index: usize,
    parameters: &[Parameter],
    params: &BTreeMap<String, Value>,
) -> Result<Step, String> {
    let mut step = step;
    for p in parameters {
        let (Some(path), Some(value)) = (&p.inject_into, params.get(&p.name)) else {
            continue;
        };
        let parsed = parse_path(path).map_err(|e| format!("parameter `{}`: {e}", p.name))?;
        if parsed.step == index {
            step = set_in_step(&step, &parsed.inside, value.clone())
                .map_err(|e| format!("parameter `{}`: inject_into `{path}`: {e}", p.name))?;
        }
    }
    Ok(step)
}

/// `step` with `value` at `path` (creating mappings on the way); the result must still be a
/// step.
pub(super) fn set_in_step(step: &Step, path: &[String], value: Value) -> Result<Step, String> {
    let mut tree = serde_json::to_value(step).map_err(|e| e.to_string())?;
    // A plain selector string becomes `{primary: ...}` so `selector.primary` has a place.
    if path.first().is_some_and(|t| t == "selector")
        && path.len() > 1
        && let Some(Value::String(s)) = tree.get("selector").cloned()
    {
        tree["selector"] = serde_json::json!({"primary": s});
    }
    let mut at = &mut tree;
    for token in &path[..path.len() - 1] {
        at = match at {
            Value::Object(map) => map
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("no item `{token}` in the list"))?,
            _ => return Err(format!("`{token}` is inside a value that is not a mapping")),
        };
    }
    let leaf = &path[path.len() - 1];
    match at {
        Value::Object(map) => {
            map.insert(leaf.clone(), value);
        }
        Value::Array(items) => {
            let slot = leaf
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("no item `{leaf}` in the list"))?;
            *slot = value;
        }
        _ => return Err(format!("`{leaf}` is inside a value that is not a mapping")),
    }
    serde_json::from_value(tree).map_err(|e| format!("the step no longer reads: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_paths_map_onto_the_step() {
        assert_eq!(
            parse_path("steps.2.params.text").unwrap(),
            InjectPath {
                step: 2,
                inside: vec!["text".into()]
            }
        );
        let verify = parse_path("steps.0.verify.expect_text_on_page").unwrap();
        assert_eq!(verify.inside, ["verify", "text_on_page"]);
        for bad in [
            "step.1.text",
            "steps.x.text",
            "steps.1",
            "steps.1.params",
            "steps.1..a",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_land_in_params_selectors_and_checks() {
        let step: Step = serde_json::from_value(serde_json::json!({
            "action": "key_press", "selector": "#q", "params": {"text": "{x}"},
            "verify": {"expect_text_on_page": "old"}
        }))
        .unwrap();
        let path = |p: &str| parse_path(p).unwrap().inside;
        let step = set_in_step(&step, &path("steps.0.params.text"), "123".into()).unwrap();
        assert_eq!(step.params["text"], "123");
        let step = set_in_step(&step, &path("steps.0.selector.primary"), "#r".into()).unwrap();
        assert_eq!(step.selector.as_ref().unwrap().candidates(), ["#r"]);
        let step: Step = serde_json::from_value(serde_json::json!({
            "action": "click", "selector": "#a", "verify": {"expect_text_on_page": "old"}
        }))
        .unwrap();
        let step = set_in_step(
            &step,
            &path("steps.0.verify.expect_text_on_page"),
            "new".into(),
        )
        .unwrap();
        assert_eq!(
            step.verify.as_ref().unwrap().text_on_page.as_deref(),
            Some("new")
        );
        let err = set_in_step(&step, &path("steps.0.verify.nope"), "x".into()).unwrap_err();
        assert!(err.contains("unknown field `nope`"), "{err}");
    }
}
