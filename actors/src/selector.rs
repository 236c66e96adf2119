//! Selectors in Playwright's syntax, wherever a selector is taken (script actions, playbook
//! `primary`/`fallbacks` and `verify` checks, the agent's `browser` tool): CSS, `text=Cancel`
//! (case-insensitive substring), `text="Cancel"` (exact), `role=button[name*="Cancel"]`,
//! Playwright's `:has-text()`, `:text()`, `:text-is()` and `:visible` at the end of a CSS part,
//! `nth=N`, and parts chained with `>>` (each searched inside the previous part's matches).
//!
//! This parser is the one source of truth for the syntax: admission runs it to refuse a
//! malformed selector with its field, and the browser side runs it again on the selector it is
//! given and hands the page's engine (`chromium/query.rs`) the parsed form as JSON, so the page
//! never parses a selector itself. CSS is checked lightly here (brackets, quotes, a trailing
//! combinator); the browser has the final word on it.

mod css;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// The forms a selector may take, for error messages.
pub(crate) const ACCEPTED_FORMS: &str = "a selector is CSS (#submit), text=Cancel (substring, \
     any case), text=\"Cancel\" (exact), role=button, role=button[name=\"Cancel\"] (also \
     [name*=\"…\"] and [name=\"…\" i]), CSS ending in :has-text(\"Cancel\"), or such parts \
     chained with >> (nth=0 picks one: nth=-1 is the last)";

impl Selector {
    /// Parses `text`, or says what is wrong with it and which forms are accepted.
    pub(crate) fn parse(text: &str) -> Result<Selector, SelectorError> {
        parse::selector(text).map_err(|problem| SelectorError::new(text, problem))
    }

    /// The parsed form the page's engine takes.
    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl SelectorError {
    fn new(selector: &str, problem: Problem) -> Self {
        let message = match problem {
            Problem::Css(why) => format!("`{selector}` is not a valid CSS selector: {why}"),
            Problem::Form(why) => format!("`{selector}` is not a valid selector: {why}"),
        };
        Self {
            message: format!("{message}; {ACCEPTED_FORMS}"),
        }
    }
}

/// A quoted string at the start of `s` (either quote, `\` escapes the next character): its
/// text and the bytes it used.
fn quoted(s: &str) -> Result<(String, usize), Problem> {
    let mut chars = s.char_indices();
    let Some((_, quote)) = chars.next() else {
        return Err(Problem::Form("a quoted string is missing".into()));
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, next)) => out.push(next),
                None => break,
            },
            c if c == quote => return Ok((out, i + c.len_utf8())),
            c => out.push(c),
        }
    }
    Err(Problem::Form(format!("a {quote} quote is not closed")))
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SelectorError {}

/// A parsed selector: its parts in order. Serialized as the array the page's engine walks.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub(crate) struct Selector {
    pub(crate) parts: Vec<Part>,
}

/// One part of a selector (between `>>`s).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "engine", rename_all = "snake_case")]
pub(crate) enum Part {
    /// A CSS selector, and Playwright pseudo-classes that filter its matches.
    Css {
        css: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        filters: Vec<Filter>,
    },
    /// The smallest elements whose text contains `text` (any case), or equals it (`exact`);
    /// whitespace is normalized on both sides.
    Text { text: String, exact: bool },
    /// Elements with this ARIA role (explicit or implicit), matching every attribute; hidden
    /// ones only with `include_hidden`.
    Role {
        role: String,
        attrs: Vec<RoleAttr>,
        include_hidden: bool,
    },
    /// The match at `index` (0-based; negative counts from the end).
    Nth { index: i64 },
}

/// A Playwright pseudo-class at the end of a CSS part.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Filter {
    /// `:has-text("…")`: the element's text contains this (any case), anywhere inside it.
    HasText { text: String },
    /// `:text("…")` (substring, any case) / `:text-is("…")` (exact): the smallest such element.
    Text { text: String, exact: bool },
    /// `:visible`.
    Visible,
}

/// One `[attr op value flag]` of a role part.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct RoleAttr {
    /// `name`, `level`, `checked`, `disabled`, `expanded`, `pressed` or `selected`.
    pub(crate) attr: String,
    /// `=`, `*=`, `^=`, `$=`, `~=` or `|=` (only `name` takes other than `=`).
    pub(crate) op: String,
    /// A string (name), a number (level), `true`/`false`, or `"mixed"` (checked, pressed).
    pub(crate) value: Value,
    /// The `i` flag: compare the name in any case.
    pub(crate) ignore_case: bool,
}

/// Why a selector does not parse: names the selector and the accepted forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SelectorError {
    message: String,
}

/// What the parser found wrong, before it is phrased for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    /// A CSS part's syntax.
    Css(String),
    /// Anything else: an engine, a quote, a role, an attribute, `nth=`, `>>`.
    Form(String),
}
