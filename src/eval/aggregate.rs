//! Trials into a case result and cases into a suite result, as the reference aggregates them:
//! averages (rounded for counts), nearest-rank p95 of durations, the share of trials that
//! passed; a case of several trials is scored again on its averages, and fails
//! `trial_pass_rate` when any trial failed and it sets no `min_trial_pass_rate`. Unlike the
//! reference, a single-trial case is held to `min_trial_pass_rate` and `max_p95_duration_ms`
//! too.

use serde_json::Value;

use super::score::{CaseResult, Mode, Observed, SuiteResult, Trial, failed_checks, mean, p95};
use super::suite::Case;

/// A case over its trials (at least one).
pub(crate) fn aggregate(case: &Case, trials: Vec<Trial>) -> CaseResult {
    let n = trials.len().max(1) as f64;
    let passed = trials.iter().filter(|t| t.passed).count();
    let rate = passed as f64 / n;
    let durations: Vec<u64> = trials.iter().map(|t| t.observed.duration_ms).collect();
    let observed = averaged(case, &trials, rate, passed);
    let p95_duration_ms = p95(&durations);
    let mut failed = if trials.len() == 1 {
        trials[0].failed_checks.clone()
    } else {
        failed_checks(case, &observed)
    };
    let e = &case.expect;
    if e.min_trial_pass_rate.is_some_and(|min| rate < min) {
        failed.push("min_trial_pass_rate");
    }
    if e.max_p95_duration_ms
        .is_some_and(|max| p95_duration_ms > max)
    {
        failed.push("max_p95_duration_ms");
    }
    if trials.len() > 1 && e.min_trial_pass_rate.is_none() && passed != trials.len() {
        failed.push("trial_pass_rate");
    }
    let mut seen = Vec::new();
    failed.retain(|c| {
        !seen.contains(c) && {
            seen.push(*c);
            true
        }
    });
    CaseResult {
        id: case.id.clone(),
        requested_mode: case.execution_mode.as_str(),
        benchmark_tags: case.benchmark_tags.clone(),
        avg_duration_ms: mean(durations.iter().map(|d| *d as f64)),
        avg_estimated_cost_usd: observed.estimated_cost_usd,
        observed,
        trials_run: trials.len() as u32,
        trial_pass_rate: rate,
        p95_duration_ms,
        trials,
        passed: failed.is_empty(),
        failed_checks: failed,
    }
}

/// The trials' averages and any-of flags, as one observation.
fn averaged(case: &Case, trials: &[Trial], rate: f64, passed: usize) -> Observed {
    let avg = |f: fn(&Observed) -> u64| mean(trials.iter().map(|t| f(&t.observed) as f64));
    let any = |f: fn(&Observed) -> bool| trials.iter().any(|t| f(&t.observed));
    let first = trials.first().map(|t| &t.observed);
    let modes: Vec<Mode> = trials.iter().map(|t| t.observed.mode).collect();
    let mode = match modes.first() {
        Some(m) if modes.iter().all(|x| x == m) => *m,
        _ => Mode::Hybrid,
    };
    Observed {
        success: match case.expect.min_trial_pass_rate {
            Some(min) => rate >= min,
            None => trials.iter().all(|t| t.observed.success),
        },
        mode,
        summary: match trials {
            [one] => one.observed.summary.clone(),
            _ => format!("{passed}/{} trials passed", trials.len()),
        },
        error: trials.iter().find_map(|t| t.observed.error.clone()),
        duration_ms: avg(|o| o.duration_ms).round() as u64,
        actions: avg(|o| o.actions).round() as u64,
        input_tokens: avg(|o| o.input_tokens).round() as u64,
        output_tokens: avg(|o| o.output_tokens).round() as u64,
        recovery_used: any(|o| o.recovery_used),
        playbook_hit: trials.iter().all(|t| t.observed.playbook_hit),
        handoff_occurred: any(|o| o.handoff_occurred),
        handoff_succeeded: any(|o| o.handoff_succeeded),
        estimated_cost_usd: mean(trials.iter().map(|t| t.observed.estimated_cost_usd)),
        data: trials
            .iter()
            .rev()
            .map(|t| &t.observed.data)
            .find(|d| d.as_object().is_some_and(|m| !m.is_empty()))
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        extracted_texts: first.map(|o| o.extracted_texts.clone()).unwrap_or_default(),
    }
}

/// The suite over its cases; rates over every trial run.
pub(crate) fn summarize(name: &str, cases: Vec<CaseResult>) -> SuiteResult {
    let trials: Vec<&Observed> = cases
        .iter()
        .flat_map(|c| c.trials.iter().map(|t| &t.observed))
        .collect();
    let share = |count: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        }
    };
    let handoffs: Vec<&&Observed> = trials.iter().filter(|t| t.handoff_occurred).collect();
    let durations: Vec<u64> = trials.iter().map(|t| t.duration_ms).collect();
    let passed = cases.iter().filter(|c| c.passed).count();
    SuiteResult {
        name: name.to_owned(),
        passed,
        failed: cases.len() - passed,
        total: cases.len(),
        pass_rate: share(passed, cases.len()),
        avg_duration_ms: mean(durations.iter().map(|d| *d as f64)),
        p95_duration_ms: p95(&durations),
        avg_estimated_cost_usd: mean(trials.iter().map(|t| t.estimated_cost_usd)),
        deterministic_hit_rate: share(
            trials.iter().filter(|t| t.playbook_hit).count(),
            trials.len(),
        ),
        handoff_rate: share(handoffs.len(), trials.len()),
        handoff_rescue_rate: share(
            handoffs.iter().filter(|t| t.handoff_succeeded).count(),
            handoffs.len(),
        ),
        cases,
    }
}
