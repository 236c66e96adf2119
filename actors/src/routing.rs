//! Routing a directive to a playbook, as the reference's `hybrid_auto` does: the playbooks in
//! the config's `playbooks.dir` are matched by tag (a tag matches when the directive contains
//! it, case-insensitively; the playbook whose matching tags are longest in total wins, ties to
//! the first id), and their parameters are read from the directive — a parameter's `pattern`
//! (its group 1, or the whole match), else for `int` the first number of three or more digits
//! (`#?(\d{3,})`), else `name: value` / `name=value`.
//!
//! Pure functions, but for reading the directory; admission (`admit/auto.rs`) decides the route.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use crate::request::{ParamType, Parameter, Playbook};

/// A playbook a directive matched, and the tags that matched.
#[derive(Debug)]
pub(crate) struct Match {
    pub(crate) playbook: Playbook,
    pub(crate) tags: Vec<String>,
}

/// Every playbook in `dir` that parses, by id. One that does not is left out and named in the
/// log: routing must not fail every directive because one file is broken (`pilothouse
/// validate` names its problems).
pub(crate) fn candidates(dir: &Path) -> Vec<Playbook> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut playbooks = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| crate::playbook::parse_yaml(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(playbook) => playbooks.push(playbook),
            Err(e) => tracing::warn!(path = %path.display(), "playbook left out of routing: {e}"),
        }
    }
    playbooks
}

/// The playbook whose tags found in `directive` are longest in total; `None` when no tag of any
/// playbook is in it.
pub(crate) fn best_match(directive: &str, playbooks: Vec<Playbook>) -> Option<Match> {
    let directive = directive.to_lowercase();
    let mut best: Option<(usize, Match)> = None;
    for playbook in playbooks {
        let tags: Vec<String> = playbook
            .tags
            .iter()
            .filter(|t| !t.trim().is_empty() && directive.contains(&t.to_lowercase()))
            .cloned()
            .collect();
        let score: usize = tags.iter().map(|t| t.chars().count()).sum();
        if score > best.as_ref().map_or(0, |(s, _)| *s) {
            best = Some((score, Match { playbook, tags }));
        }
    }
    best.map(|(_, m)| m)
}

/// The values `directive` gives for `parameters`, by name; a parameter it says nothing about is
/// absent.
pub(crate) fn extract_params(directive: &str, parameters: &[Parameter]) -> BTreeMap<String, Value> {
    parameters
        .iter()
        .filter_map(|p| Some((p.name.clone(), Value::String(extract(directive, p)?))))
        .collect()
}

fn extract(directive: &str, p: &Parameter) -> Option<String> {
    if let Some(pattern) = p.pattern.as_deref().filter(|s| !s.is_empty()) {
        let caps = Regex::new(pattern).ok()?.captures(directive)?;
        let found = caps.get(1).or_else(|| caps.get(0))?;
        return Some(found.as_str().to_owned());
    }
    if p.kind == ParamType::Int {
        let caps = Regex::new(r"#?(\d{3,})").ok()?.captures(directive)?;
        return Some(caps[1].to_owned());
    }
    let named = format!(
        r#"(?i)\b{}\s*[=:]\s*(?:"([^"]*)"|'([^']*)'|(\S+))"#,
        regex::escape(&p.name)
    );
    let caps = Regex::new(&named).ok()?.captures(directive)?;
    let value = (1..=3).find_map(|i| caps.get(i))?.as_str();
    let value = value.trim_end_matches(['.', ',', ';', '!', '?', ')']);
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests;
