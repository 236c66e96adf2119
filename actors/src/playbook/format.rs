//! Which spelling a playbook is written in: the reference system's (arguments under `params:`,
//! `expect_*` checks, `key_press`, `llm_recover`, `auth_required`, `inject_into`) or
//! Pilothouse's (arguments beside `action`, checks without `expect_`, `type` / `press_key`,
//! `agent`). Both parse into the same playbook; this only tells a person which one was read
//! (`pilothouse validate` prints it), from the document as written.

use std::fmt;

use serde_json::Value;

/// Keys of a step that are not action arguments, in either spelling.
const STEP_KEYS: &[&str] = &[
    "action",
    "selector",
    "verify",
    "on_failure",
    "failure_message",
    "store_as",
    "description",
    "params",
    "request",
    "prompt",
];
/// Actions only the reference spells.
const REFERENCE_ACTIONS: &[&str] = &["key_press", "api_request", "llm_extract"];
/// Actions only Pilothouse has.
const PILOTHOUSE_ACTIONS: &[&str] = &["type", "press_key", "hover", "observe", "screenshot"];

impl PlaybookFormat {
    /// The spelling of `document` (a playbook as parsed, before typing).
    pub fn detect(document: &Value) -> Self {
        let mut seen = Seen::default();
        if let Value::Object(top) = document {
            seen.top(top);
        }
        match (seen.reference, seen.pilothouse) {
            (true, false) => Self::Reference,
            (false, true) => Self::Pilothouse,
            (true, true) => Self::Mixed,
            (false, false) => Self::Common,
        }
    }
}

impl fmt::Display for PlaybookFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Reference => "reference format",
            Self::Pilothouse => "pilothouse format",
            Self::Mixed => "mixed format (reference and pilothouse spellings)",
            Self::Common => "reference and pilothouse format (no spelling particular to either)",
        })
    }
}

/// Whose spellings were seen.
#[derive(Default)]
struct Seen {
    reference: bool,
    pilothouse: bool,
}

impl Seen {
    fn top(&mut self, top: &serde_json::Map<String, Value>) {
        self.reference |= ["auth_required", "auth", "capture"]
            .iter()
            .any(|k| top.contains_key(*k))
            || top.get("start_url") == Some(&Value::String(String::new()));
        if let Some(Value::Array(parameters)) = top.get("parameters") {
            for p in parameters.iter().filter_map(Value::as_object) {
                self.reference |= p.contains_key("inject_into");
                self.pilothouse |= p.contains_key("required") || p.contains_key("default");
            }
        }
        if let Some(Value::Object(guardrails)) = top.get("guardrails") {
            self.reference |= guardrails.contains_key("enable_llm_action_check");
            self.pilothouse |=
                guardrails.contains_key("task_kind") || guardrails.contains_key("stuck");
        }
        if let Some(Value::Array(steps)) = top.get("steps") {
            steps
                .iter()
                .filter_map(Value::as_object)
                .for_each(|s| self.step(s));
        }
    }

    fn step(&mut self, step: &serde_json::Map<String, Value>) {
        let action = step.get("action").and_then(Value::as_str).unwrap_or("");
        self.reference |= REFERENCE_ACTIONS.contains(&action)
            || step.contains_key("params")
            || step.contains_key("request");
        self.pilothouse |= PILOTHOUSE_ACTIONS.contains(&action)
            || step.keys().any(|k| !STEP_KEYS.contains(&k.as_str()));
        match step.get("on_failure").and_then(Value::as_str) {
            Some("llm_recover") => self.reference = true,
            Some("agent") => self.pilothouse = true,
            _ => {}
        }
        if let Some(Value::Object(verify)) = step.get("verify") {
            for key in verify.keys().filter(|k| *k != "timeout_ms") {
                if key.starts_with("expect_") {
                    self.reference = true;
                } else {
                    self.pilothouse = true;
                }
            }
        }
    }
}

/// The spelling a playbook was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaybookFormat {
    /// The reference system's spelling only.
    Reference,
    /// Pilothouse's own spelling only.
    Pilothouse,
    /// Both spellings in one file (each is accepted).
    Mixed,
    /// Nothing particular to either (valid as both).
    Common,
}
