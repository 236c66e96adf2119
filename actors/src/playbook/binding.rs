//! Playbook parameters in text: `{name}` replaced by a parameter's value, and the names a
//! playbook's strings refer to (for validation).

use std::collections::BTreeMap;

use serde_json::Value;

/// Replaces `{name}` in every string of `value` with the parameter's text (recursively).
/// Unknown names are left as they are (validation reports them).
pub(crate) fn bind(value: Value, params: &BTreeMap<String, Value>) -> Value {
    crate::request::map_strings(value, &mut |s| bind_str(s, params))
}

pub(crate) fn bind_str(text: &str, params: &BTreeMap<String, Value>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_param_name(&after[..close]) => {
                let name = &after[..close];
                match params.get(name) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

pub(super) fn is_param_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// `{name}` references in every string of `value`.
pub(super) fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(open) = rest.find('{') {
                let after = &rest[open + 1..];
                match after.find('}') {
                    Some(close) if is_param_name(&after[..close]) => {
                        out.push(after[..close].to_owned());
                        rest = &after[close + 1..];
                    }
                    _ => rest = after,
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}
