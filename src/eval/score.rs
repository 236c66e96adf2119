//! Scoring, as pure functions: what a trial observed is checked against its case's `expect`
//! (each failed key named), trials aggregate into a case result (averages, nearest-rank p95,
//! pass rate), and cases into a suite result. Cost = input tokens / 1M × input price + output
//! tokens / 1M × output price.

use serde::Serialize;
use serde_json::Value;

use super::suite::{Case, Handoff};

/// Which path a trial took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    Agent,
    Playbook,
    /// A playbook that handed the run to the agent (or trials that took different paths).
    Hybrid,
}

/// What a run showed, as the checks read it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Observed {
    pub(crate) success: bool,
    pub(crate) mode: Mode,
    pub(crate) summary: String,
    pub(crate) error: Option<String>,
    pub(crate) duration_ms: u64,
    pub(crate) actions: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) recovery_used: bool,
    pub(crate) playbook_hit: bool,
    pub(crate) handoff_occurred: bool,
    pub(crate) handoff_succeeded: bool,
    pub(crate) estimated_cost_usd: f64,
    /// The run's data (its `store_as` values and the agent's answer's fields).
    pub(crate) data: Value,
    pub(crate) extracted_texts: Vec<String>,
}

/// One trial, scored.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Trial {
    pub(crate) index: u32,
    /// The run behind it, for its report.
    pub(crate) run_id: Option<String>,
    #[serde(flatten)]
    pub(crate) observed: Observed,
    pub(crate) passed: bool,
    pub(crate) failed_checks: Vec<&'static str>,
}

/// A case over its trials.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CaseResult {
    pub(crate) id: String,
    pub(crate) requested_mode: &'static str,
    pub(crate) benchmark_tags: Vec<String>,
    /// Averages (tokens, actions, duration, cost) and any-of flags over the trials.
    #[serde(flatten)]
    pub(crate) observed: Observed,
    pub(crate) trials_run: u32,
    pub(crate) trial_pass_rate: f64,
    pub(crate) avg_duration_ms: f64,
    pub(crate) p95_duration_ms: u64,
    pub(crate) avg_estimated_cost_usd: f64,
    pub(crate) trials: Vec<Trial>,
    pub(crate) passed: bool,
    pub(crate) failed_checks: Vec<&'static str>,
}

/// The suite over its cases.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SuiteResult {
    pub(crate) name: String,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) total: usize,
    pub(crate) pass_rate: f64,
    pub(crate) avg_duration_ms: f64,
    pub(crate) p95_duration_ms: u64,
    pub(crate) avg_estimated_cost_usd: f64,
    /// Trials a playbook finished without the agent.
    pub(crate) deterministic_hit_rate: f64,
    pub(crate) handoff_rate: f64,
    /// Hand-offs that ended in success.
    pub(crate) handoff_rescue_rate: f64,
    pub(crate) cases: Vec<CaseResult>,
}

/// The nearest-rank 95th percentile (0 for none).
pub(crate) fn p95(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (0.95 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0)
}

/// What the tokens cost at the case's prices (0 when it names none).
pub(crate) fn cost_usd(case: &Case, input_tokens: u64, output_tokens: u64) -> f64 {
    let input = case.input_token_cost_per_million_usd.unwrap_or(0.0);
    let output = case.output_token_cost_per_million_usd.unwrap_or(0.0);
    input_tokens as f64 / 1e6 * input + output_tokens as f64 / 1e6 * output
}

/// The value at a dotted path (`details.title`) in `data`.
pub(crate) fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(data, |v, key| v.as_object()?.get(key))
        .filter(|v| !v.is_null())
}

fn contains_all(haystack: &str, needles: &[String]) -> bool {
    let haystack = haystack.to_lowercase();
    needles.iter().all(|n| haystack.contains(&n.to_lowercase()))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `expect` keys `seen` fails, shared by trials and case aggregates.
pub(crate) fn failed_checks(case: &Case, seen: &Observed) -> Vec<&'static str> {
    checks(case, seen, data_value_missing(case, seen))
        .into_iter()
        .filter_map(|(name, failed)| failed.then_some(name))
        .collect()
}

/// Whether some `data_values_contain` path is missing or lacks its text.
fn data_value_missing(case: &Case, seen: &Observed) -> bool {
    case.expect
        .data_values_contain
        .iter()
        .any(|(path, needle)| {
            lookup(&seen.data, path)
                .is_none_or(|v| !contains_all(&text_of(v), std::slice::from_ref(needle)))
        })
}

/// Each key with whether `seen` fails it.
fn checks(case: &Case, seen: &Observed, data_value_missing: bool) -> [(&'static str, bool); 13] {
    let e = &case.expect;
    let over = |limit: Option<u64>, value: u64| limit.is_some_and(|l| value > l);
    [
        ("must_succeed", e.must_succeed && !seen.success),
        (
            "summary_contains",
            !contains_all(&seen.summary, &e.summary_contains),
        ),
        (
            "error_contains",
            !contains_all(seen.error.as_deref().unwrap_or(""), &e.error_contains),
        ),
        (
            "extracted_text_contains",
            !contains_all(&seen.extracted_texts.join("\n"), &e.extracted_text_contains),
        ),
        (
            "required_data_keys",
            e.required_data_keys
                .iter()
                .any(|k| lookup(&seen.data, k).is_none()),
        ),
        ("data_values_contain", data_value_missing),
        ("max_duration_ms", over(e.max_duration_ms, seen.duration_ms)),
        ("max_actions", over(e.max_actions, seen.actions)),
        (
            "min_actions",
            e.min_actions.is_some_and(|m| seen.actions < m),
        ),
        (
            "max_input_tokens",
            over(e.max_input_tokens, seen.input_tokens),
        ),
        (
            "max_output_tokens",
            over(e.max_output_tokens, seen.output_tokens),
        ),
        (
            "handoff",
            match e.handoff {
                Handoff::Allow => false,
                Handoff::Require => !seen.handoff_occurred,
                Handoff::Forbid => seen.handoff_occurred,
            },
        ),
        (
            "max_estimated_cost_usd",
            e.max_estimated_cost_usd
                .is_some_and(|m| seen.estimated_cost_usd > m),
        ),
    ]
}

/// A trial scored against its case.
pub(crate) fn score_trial(
    case: &Case,
    index: u32,
    run_id: Option<String>,
    seen: Observed,
) -> Trial {
    let failed = failed_checks(case, &seen);
    Trial {
        index,
        run_id,
        passed: failed.is_empty(),
        failed_checks: failed,
        observed: seen,
    }
}

pub(crate) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[cfg(test)]
mod tests;
