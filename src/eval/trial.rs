//! One trial of a case: the run request it becomes, and what its run showed.
//!
//! A case with a `playbook` runs it (`playbook_only` and `hybrid_auto`; the playbook's own
//! `llm_recover` reaches the agent when `[agent]` names one); `agent_only` runs the agent on
//! the directive; `hybrid_auto` without a playbook is an `auto` run, routed by the playbooks'
//! tags. Credentials are `{name: value}` or the reference's `{service: {key: value}}` (named
//! `service_key`); a value `env:VAR` is read from the environment.

use std::collections::BTreeMap;

use pilothouse::{EventKind, ExecutionMode, RunEvent, RunRequest, RunState, RunStatus};
use serde_json::{Map, Value, json};

use super::score::{Mode, Observed, cost_usd};
use super::suite::Case;

/// The run request for one trial of `case`; the error names the case and what is wrong.
pub(crate) fn request_for(suite: &str, case: &Case, trial: u32) -> Result<RunRequest, String> {
    let mut driver = match (&case.playbook, case.execution_mode) {
        (Some(id), ExecutionMode::PlaybookOnly | ExecutionMode::HybridAuto) => {
            json!({"type": "playbook", "playbook": id, "params": case.playbook_params})
        }
        (_, ExecutionMode::AgentOnly) => json!({"type": "agent", "directive": case.directive}),
        (None, mode) => json!({"type": "auto", "directive": case.directive,
                               "execution_mode": mode, "params": case.playbook_params}),
    };
    if driver["type"] != "playbook" {
        if let Some(steps) = case.max_steps {
            driver["max_steps"] = json!(steps);
        }
        if let Some(schema) = &case.output_schema {
            driver["output_schema"] = schema.clone();
        }
        if let Some(profile) = &case.profile {
            driver["profile"] = json!(profile);
        }
        if let Some(thinking) = &case.thinking {
            driver["reasoning_effort"] = json!(thinking);
        }
    }
    let mut request = json!({
        "driver": driver,
        "labels": {"eval_suite": suite, "eval_case": case.id, "eval_trial": trial.to_string()},
        "credentials": credentials(case)?,
    });
    if let Some(url) = &case.start_url {
        request["start_url"] = json!(url);
    }
    if case.allow_private_networks {
        request["guardrails"] = json!({"allow_private_networks": true});
    }
    serde_json::from_value(request).map_err(|e| format!("case {}: {e}", case.id))
}

fn credentials(case: &Case) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in case.credentials.iter().flatten() {
        match value {
            Value::Object(keys) => {
                for (key, value) in keys {
                    out.insert(format!("{name}_{key}"), secret(case, value)?);
                }
            }
            other => {
                out.insert(name.clone(), secret(case, other)?);
            }
        }
    }
    Ok(out)
}

fn secret(case: &Case, value: &Value) -> Result<String, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "case {}: credential value {other} is not text",
                case.id
            ));
        }
    };
    match text.strip_prefix("env:") {
        Some(var) => std::env::var(var).map_err(|_| {
            format!(
                "case {}: credentials name env:{var}, which is not set",
                case.id
            )
        }),
        None => Ok(text),
    }
}

/// What a finished run showed, read as the checks read it.
pub(crate) fn observe(case: &Case, status: &RunStatus, events: &[RunEvent]) -> Observed {
    let usage = status.usage.unwrap_or_default();
    let success = status.state == RunState::Completed;
    let recovery_used = status.recovery.is_some();
    let handed_off = status
        .route
        .as_ref()
        .is_some_and(|r| r.handed_off.is_some());
    let handoff = recovery_used || handed_off;
    let on_playbook =
        status.driver == "playbook" || status.route.as_ref().is_some_and(|r| r.path == "playbook");
    let mode = match (on_playbook, handoff) {
        (true, true) => Mode::Hybrid,
        (true, false) => Mode::Playbook,
        (false, _) => Mode::Agent,
    };
    let (summary, data) = answer_and_data(status);
    Observed {
        success,
        mode,
        summary,
        error: status.error.as_ref().map(|e| e.message.clone()),
        duration_ms: status.duration_ms.unwrap_or(0),
        actions: u64::from(status.action_count),
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
        recovery_used,
        playbook_hit: success && on_playbook && !handoff,
        handoff_occurred: handoff,
        handoff_succeeded: handoff && success,
        estimated_cost_usd: cost_usd(case, usage.prompt_tokens, usage.completion_tokens),
        data,
        extracted_texts: extracted(events),
    }
}

/// The summary (the answer's `summary`, or the answer itself when it is text) and the data:
/// the run's `store_as` values with the answer's fields beside them, so `details.title` finds
/// an agent's structured answer as the reference's does.
fn answer_and_data(status: &RunStatus) -> (String, Value) {
    let mut data: Map<String, Value> = status.data.clone().into_iter().collect();
    let answer = data.get("answer").cloned();
    let summary = match &answer {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Object(fields)) => {
            for (key, value) in fields {
                data.entry(key.clone()).or_insert_with(|| value.clone());
            }
            fields
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        }
        _ => String::new(),
    };
    (summary, Value::Object(data))
}

/// The results of the run's `extract` actions, in order.
fn extracted(events: &[RunEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action {
                action,
                success: true,
                result: Some(text),
                ..
            } if action == "extract" => Some(text.clone()),
            _ => None,
        })
        .collect()
}
