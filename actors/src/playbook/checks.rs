//! Checks of a playbook's parameter values and selectors.

use serde_json::Value;

use crate::request::{ParamType, Parameter};
use crate::selector::Selector;

pub(super) fn check_param(p: &Parameter, value: &Value) -> Result<Value, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(format!("must be a string or a number, got {other}")),
    };
    match p.kind {
        ParamType::Int if text.trim().parse::<i64>().is_err() => {
            return Err(format!("must be an integer, got `{text}`"));
        }
        ParamType::SelectorText if text.contains(['"', '\'', '[', ']', '\\']) => {
            return Err(
                "must not contain quotes, brackets or backslashes (it goes into a selector)".into(),
            );
        }
        _ => {}
    }
    if let Some(pattern) = &p.pattern {
        let re = regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
        // With a capture group, a pattern reads the value out of an `auto` directive (its
        // group 1, as in the reference); it constrains only values given whole.
        if re.captures_len() == 1 && !re.is_match(&text) {
            return Err(format!("`{text}` does not match the pattern `{pattern}`"));
        }
    }
    Ok(Value::String(text))
}

/// A selector in one of the accepted forms (`selector.rs`, the one parser).
pub(super) fn check_selector(selector: &str) -> Result<(), String> {
    Selector::parse(selector)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
