//! A finished agent run as a playbook (`pilothouse export-playbook`): the actions it recorded
//! (`recording/actions.jsonl`, each with its scrubbed JSON) become steps in the reference's
//! format, so nobody pays a model to solve the task again.
//!
//! - Only actions that succeeded become steps; a `sequence` is unfolded; looks that change
//!   nothing (`observe`, `screenshot`) are left out.
//! - A step's selector is the one that worked; selectors the run tried for the same action
//!   just before, and that failed, become its fallbacks.
//! - Text typed that the directive contains becomes a parameter (named after the field, its
//!   value the default); a credential stays a `credential_ref`.
//! - A `goto`, or a click that moved the page, is verified by the URL path the run saw after it.
//!
//! The playbook is parsed back and validated before it is handed out.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::recording::{ActionEntry, REQUEST_FILE};
use crate::request::{DriverSpec, Playbook, RunRequest};

mod steps;

use steps::Exporter;

/// An exported playbook: its YAML, the playbook it parses to, and what the export noticed.
#[derive(Debug)]
pub struct ExportedPlaybook {
    /// The playbook file, in the reference system's format.
    pub yaml: String,
    /// The same, parsed and validated.
    pub playbook: Playbook,
    /// What was left out or could not be carried over, in words.
    pub notes: Vec<String>,
}

/// Exports the run in `run_dir` (`runs/<run_id>`) as a playbook named `id`.
pub fn export_playbook(run_dir: &Path, id: &str) -> Result<ExportedPlaybook, String> {
    let recording = run_dir.join(crate::recording::RECORDING_DIR);
    let request = read_request(&recording)?;
    let DriverSpec::Agent(agent) = &request.driver else {
        return Err(format!(
            "the run is a {} run; only agent runs are exported (a playbook run already has one)",
            request.driver.type_name()
        ));
    };
    let entries = read_actions(&recording)?;
    let mut exporter = Exporter::new(&agent.directive);
    for entry in &entries {
        exporter.entry(entry);
    }
    if exporter.steps.is_empty() {
        return Err("the run recorded no action that changed anything; nothing to export".into());
    }
    let document = document(id, &agent.directive, exporter.steps, exporter.parameters);
    let yaml = serde_saphyr::to_string(&document).map_err(|e| format!("cannot write YAML: {e}"))?;
    let playbook = crate::playbook::parse_yaml(&yaml)
        .map_err(|e| format!("the export does not parse: {e}"))?;
    let problems: Vec<String> = playbook
        .problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    if !problems.is_empty() {
        return Err(format!(
            "the export does not validate: {}",
            problems.join("; ")
        ));
    }
    Ok(ExportedPlaybook {
        yaml,
        playbook,
        notes: exporter.notes,
    })
}

fn read_request(recording: &Path) -> Result<RunRequest, String> {
    let path = recording.join(REQUEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!("cannot read {}: {e} (runs recorded before exports existed, or without `recording.actions`, cannot be exported)", path.display())
    })?;
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    // Secrets were written as `******`; their names are all an export needs.
    if let Some(credentials) = value.get_mut("credentials").and_then(Value::as_object_mut) {
        credentials.values_mut().for_each(|v| *v = json!(""));
    }
    serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_actions(recording: &Path) -> Result<Vec<ActionEntry>, String> {
    let path = recording.join("actions.jsonl");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The playbook file, keys in the reference's order.
#[derive(Serialize)]
struct Document<'a> {
    id: &'a str,
    name: String,
    description: &'a str,
    tags: [&'a str; 0],
    auth_required: bool,
    start_url: &'a str,
    parameters: Vec<Ordered>,
    steps: Vec<Ordered>,
}

/// A step or parameter with its keys in the reference's order (a JSON map would sort them).
struct Ordered(Map<String, Value>);

/// Parameters read `name, type, description, default`; steps `action, selector {primary,
/// fallbacks}, params, verify, store_as, description`.
#[rustfmt::skip]
const KEY_ORDER: [&str; 11] = [
    "name", "type", "action", "selector", "primary", "fallbacks", "params", "verify",
    "store_as", "description", "default",
];

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let rank = |k: &str| {
            KEY_ORDER
                .iter()
                .position(|o| *o == k)
                .unwrap_or(KEY_ORDER.len())
        };
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort_by_key(|k| rank(k));
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for key in keys {
            match &self.0[key] {
                Value::Object(inner) => map.serialize_entry(key, &Ordered(inner.clone()))?,
                other => map.serialize_entry(key, other)?,
            }
        }
        map.end()
    }
}

fn document<'a>(
    id: &'a str,
    directive: &'a str,
    steps: Vec<Value>,
    parameters: Vec<Value>,
) -> Document<'a> {
    let ordered = |values: Vec<Value>| {
        values
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(map) => Some(Ordered(map)),
                _ => None,
            })
            .collect()
    };
    Document {
        id,
        name: format!("Exported: {}", crate::request::clip(directive, 60)),
        description: directive,
        tags: [],
        auth_required: false,
        // The run's opening `goto` is its first step already.
        start_url: "",
        parameters: ordered(parameters),
        steps: ordered(steps),
    }
}
