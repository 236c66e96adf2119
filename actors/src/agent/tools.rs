//! The agent's two tools: `browser`, whose `action` enum lists exactly the actions this run's
//! guardrails allow, and `done`, which ends the run with the final answer (checked against the
//! request's `output_schema` when there is one). A malformed call becomes an error result the
//! model reads, never a failed run.

use serde_json::{Map, Value, json};

use crate::request::{Action, ActionKind};

/// The actions a model may call, given what the guardrails allow (by name): the ones offered
/// to models (single actions, since a model calls one per tool call), in [`ActionKind::ALL`]'s
/// order.
pub(crate) fn offered(allowed: &[&'static str]) -> Vec<&'static str> {
    ActionKind::ALL
        .into_iter()
        .filter(|kind| kind.is_offered_to_models() && allowed.contains(&kind.name()))
        .map(ActionKind::name)
        .collect()
}

/// The `tools` array of a Chat Completions request.
pub(crate) fn definitions(offered: &[&str], output_schema: Option<&Value>) -> Vec<Value> {
    let answer = output_schema.cloned().unwrap_or_else(
        || json!({"type": "string", "description": "The answer to the task, or what was found."}),
    );
    vec![
        json!({"type": "function", "function": {
            "name": "browser",
            "description": "Run one action in the browser. Returns its result, or an error to \
                            react to. `observe` returns a compact snapshot of the page.",
            "parameters": {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": offered},
                    "url": {"type": "string", "description": "goto: absolute http(s) URL"},
                    "selector": {"type": "string", "description": "CSS (#submit), or Playwright-style: text=Cancel (substring), text=\"Cancel\" (exact), role=button[name=\"Cancel\"], li:has-text(\"Order 7\"), parts chained with >>, nth=0"},
                    "text": {"type": "string", "description": "type: the text to type"},
                    "credential_ref": {"type": "string", "description": "type: the name of a credential to type instead of text"},
                    "key": {"type": "string", "description": "press_key: a key name such as Enter"},
                    "direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
                    "amount": {"type": "integer", "minimum": 1},
                    "value": {"type": "string", "description": "select: an option value"},
                    "label": {"type": "string", "description": "select: an option label"},
                    "state": {"type": "string", "enum": ["visible", "hidden", "attached", "detached"]},
                    "timeout_ms": {"type": "integer", "minimum": 1},
                    "mode": {"type": "string", "enum": ["text", "html", "value", "markdown"]},
                    "full_page": {"type": "boolean"},
                    "script": {"type": "string", "description": "evaluate: a JavaScript expression"}
                },
                "required": ["action"],
                "additionalProperties": false
            }
        }}),
        json!({"type": "function", "function": {
            "name": "done",
            "description": "Finish the task. Give the answer; set success to false when the \
                            task cannot be done, with the answer saying why.",
            "parameters": {
                "type": "object",
                "properties": {
                    "answer": answer,
                    "success": {"type": "boolean"}
                },
                "required": ["answer"],
                "additionalProperties": false
            }
        }}),
    ]
}

/// A `browser` call's arguments as an action. Nulls are dropped (models send them for unused
/// fields); `store_as` is refused (the agent reports through `done`).
pub(crate) fn parse_browser_call(arguments: &str, offered: &[&str]) -> Result<Action, String> {
    let value: Value = serde_json::from_str(arguments)
        .map_err(|e| format!("the arguments are not JSON ({e}): {arguments}"))?;
    let Value::Object(map) = value else {
        return Err(format!("the arguments must be a JSON object, got {value}"));
    };
    let map: Map<String, Value> = map.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let name = map
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !offered.contains(&name.as_str()) {
        return Err(format!(
            "`action` must be one of {}; got `{name}`",
            offered.join(", ")
        ));
    }
    if map.contains_key("store_as") {
        return Err("`store_as` is not available to the agent; report findings with done".into());
    }
    serde_json::from_value::<Action>(Value::Object(map))
        .map_err(|e| format!("invalid `{name}` call: {e}"))
}

/// A `done` call: the answer (validated against `schema`) and whether the task succeeded.
pub(crate) fn parse_done_call(
    arguments: &str,
    schema: Option<&jsonschema::Validator>,
) -> Result<(Value, bool), String> {
    let value: Value = serde_json::from_str(arguments)
        .map_err(|e| format!("the arguments are not JSON ({e}): {arguments}"))?;
    let answer = value.get("answer").cloned().ok_or("`answer` is required")?;
    let success = value
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if success && let Some(validator) = schema {
        let problems: Vec<String> = validator
            .iter_errors(&answer)
            .take(5)
            .map(|e| format!("{} (at {})", e, e.instance_path()))
            .collect();
        if !problems.is_empty() {
            return Err(format!(
                "`answer` does not match the output schema: {}",
                problems.join("; ")
            ));
        }
    }
    Ok((answer, success))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_tool_offers_exactly_the_allowed_actions() {
        let offered = offered(crate::request::TaskKind::Read.allowed_names());
        assert!(!offered.contains(&"type") && !offered.contains(&"sequence"));
        let tools = definitions(&offered, None);
        let listed = &tools[0]["function"]["parameters"]["properties"]["action"]["enum"];
        assert_eq!(listed, &json!(offered));
    }

    #[test]
    fn malformed_calls_explain_themselves() {
        let offered = ["goto", "click"];
        assert!(
            parse_browser_call("{not json", &offered)
                .unwrap_err()
                .contains("not JSON")
        );
        let err = parse_browser_call(r#"{"action":"type","text":"x"}"#, &offered).unwrap_err();
        assert!(err.contains("must be one of goto, click"), "{err}");
        let err = parse_browser_call(r#"{"action":"goto"}"#, &offered).unwrap_err();
        assert!(err.contains("missing field `url`"), "{err}");
        let ok = parse_browser_call(r#"{"action":"click","selector":"a","url":null}"#, &offered);
        assert_eq!(ok.unwrap().name(), "click");
    }

    #[test]
    fn done_answers_are_checked_against_the_schema() {
        let schema = json!({"type": "object", "required": ["price"],
                            "properties": {"price": {"type": "number"}}});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let err = parse_done_call(r#"{"answer": {"price": "12"}}"#, Some(&validator)).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let (answer, ok) =
            parse_done_call(r#"{"answer": {"price": 12}}"#, Some(&validator)).unwrap();
        assert_eq!((answer, ok), (json!({"price": 12}), true));
    }
}
