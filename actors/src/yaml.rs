//! YAML in, typed values out, with limits: playbooks arrive inside requests, so their YAML is
//! untrusted input. Parsed by `serde-saphyr` (pure Rust, no libyaml), under a size cap and a
//! budget that refuses deep nesting and alias bombs with an error instead of exhausting the
//! stack or memory. Errors name the field path (`serde_path_to_error`) and end in
//! `at line L column C`.

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{DefaultMessageFormatter, Error, MessageFormatter};

/// Largest YAML text accepted (1 MiB); a playbook is a few kilobytes.
pub(crate) const MAX_YAML_BYTES: usize = 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted (a playbook needs about six).
pub(crate) const MAX_YAML_DEPTH: usize = 32;
/// Most nodes (mappings, sequences and scalars) in one document.
const MAX_YAML_NODES: usize = 100_000;
/// Most parser events replayed through aliases (`*ref`) in one document: bounds what a
/// "billion laughs" can expand to.
const MAX_ALIAS_REPLAY_EVENTS: usize = 100_000;

/// Parses one YAML document into `T` within the limits above (for files other than playbooks:
/// evaluation suites, profiles); the error is `path: message`.
pub fn parse_yaml_value<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    from_str(text).map_err(|e| format!("{}: {}", e.path, e.message))
}

/// Parses one YAML document into `T`, within the limits above.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(YamlError {
            path: ".".into(),
            message: format!(
                "the YAML is {} bytes; at most {MAX_YAML_BYTES} are accepted",
                text.len()
            ),
        });
    }
    let mut path = String::from(".");
    serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| YamlError {
        path,
        message: describe(&e),
    })
}

/// YAML 1.2 scalars as `serde_yaml` read them (`yes` and `0755` stay strings), duplicate keys
/// refused, and the budget.
fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
            flow_nesting_limit: MAX_YAML_DEPTH,
            max_nodes: MAX_YAML_NODES,
            max_total_scalar_bytes: MAX_YAML_BYTES,
        },
    };
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAY_EVENTS;
    options
}

/// The message, then ` at line L column C` when the parser knows where.
fn describe(error: &Error) -> String {
    let error = error.without_snippet();
    let text = one_line(&message(error));
    match error.location() {
        Some(at) if at.line() > 0 => {
            format!("{text} at line {} column {}", at.line(), at.column())
        }
        _ => text,
    }
}

/// What went wrong, worded as serde words it for JSON (so request and playbook errors read
/// alike), and nesting past the limit said once, with the limit.
fn message(error: &Error) -> String {
    match error {
        Error::SerdeUnknownField {
            field, expected, ..
        } if expected.is_empty() => format!("unknown field `{field}`, there are no fields"),
        Error::SerdeUnknownField {
            field, expected, ..
        } => format!("unknown field `{field}`, expected {}", one_of(expected)),
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => format!("unknown variant `{variant}`, expected {}", one_of(expected)),
        Error::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_deep(),
        _ => {
            let text = DefaultMessageFormatter.format_message(error);
            // The parser's own word for flow collections nested past the limit.
            if text == "recursion limit exceeded" {
                too_deep()
            } else {
                text.into_owned()
            }
        }
    }
}

fn too_deep() -> String {
    format!("nested deeper than {MAX_YAML_DEPTH} levels of mappings and sequences")
}

/// serde's wording: `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        many => format!("one of {}", many.join(", ")),
    }
}

/// Control characters escaped, so a message that quotes the input stays on one line.
fn one_line(message: &str) -> String {
    let mut text = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            text.extend(c.escape_default());
        } else {
            text.push(c);
        }
    }
    text
}

/// A YAML document that did not parse into the type asked for.
#[derive(Debug)]
pub(crate) struct YamlError {
    /// Where, as a field path (`steps[0].selector`); `.` for the document itself.
    pub(crate) path: String,
    /// What is wrong, and where in the text.
    pub(crate) message: String,
}

#[cfg(test)]
mod tests;
