//! Checks of a playbook's parameter values and selectors.

use serde_json::Value;

use crate::request::{ParamType, Parameter};

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
        if !re.is_match(&text) {
            return Err(format!("`{text}` does not match the pattern `{pattern}`"));
        }
    }
    Ok(Value::String(text))
}

/// A light syntax check of a CSS selector: not empty, brackets, parentheses and quotes
/// balanced, not ending in a combinator. (The browser has the final word.)
pub(super) fn check_selector(selector: &str) -> Result<(), String> {
    let s = selector.trim();
    if s.is_empty() {
        return Err("must not be empty; give a CSS selector such as #submit".into());
    }
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => stack.push(c),
            (None, ']') if stack.pop() != Some('[') => return Err(malformed(s, "unbalanced `]`")),
            (None, ')') if stack.pop() != Some('(') => return Err(malformed(s, "unbalanced `)`")),
            _ => {}
        }
    }
    if quote.is_some() {
        return Err(malformed(s, "an unclosed quote"));
    }
    if let Some(open) = stack.pop() {
        return Err(malformed(s, &format!("an unclosed `{open}`")));
    }
    if s.ends_with(['>', '+', '~', ',']) {
        return Err(malformed(s, "it ends with a combinator"));
    }
    Ok(())
}

fn malformed(s: &str, why: &str) -> String {
    format!("`{s}` is not a valid CSS selector: {why}")
}
