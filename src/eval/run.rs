//! Running a suite on an orchestrator: every trial of every case becomes a run (up to
//! `concurrency` at once), its events and final status are read, and the trials are scored and
//! aggregated in the suite's order whatever order they finish in.

use std::collections::BTreeMap;

use futures::StreamExt as _;
use pilothouse::{EventKind, OrchestratorHandle, RunEvent, RunRequest, RunStatus};

use super::aggregate::{aggregate, summarize};
use super::score::{Mode, Observed, SuiteResult, Trial, score_trial};
use super::suite::Suite;
use super::trial::observe;

/// One trial to run: its case (by index), its number, its request.
pub(crate) struct Job {
    pub(crate) case: usize,
    pub(crate) trial: u32,
    pub(crate) request: RunRequest,
}

/// Runs `jobs` on `handle`, `concurrency` at a time, calling `done` after each trial with the
/// case's id and whether the trial passed; the suite's result.
pub(crate) async fn run_suite(
    handle: &OrchestratorHandle,
    suite: &Suite,
    jobs: Vec<Job>,
    concurrency: usize,
    mut done: impl FnMut(&str, &Trial),
) -> SuiteResult {
    let mut trials: BTreeMap<(usize, u32), Trial> = BTreeMap::new();
    let mut finished = futures::stream::iter(jobs)
        .map(|job| async move {
            let outcome = run_one(handle, job.request).await;
            (job.case, job.trial, outcome)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((case_index, n, outcome)) = finished.next().await {
        let case = &suite.cases[case_index];
        let trial = match outcome {
            Ok((run_id, status, events)) => {
                score_trial(case, n, Some(run_id), observe(case, &status, &events))
            }
            Err(message) => score_trial(case, n, None, unrun(message)),
        };
        done(&case.id, &trial);
        trials.insert((case_index, n), trial);
    }
    let mut by_case: Vec<Vec<Trial>> = vec![Vec::new(); suite.cases.len()];
    for ((case_index, _), trial) in trials {
        by_case[case_index].push(trial);
    }
    let cases = suite
        .cases
        .iter()
        .zip(by_case)
        .map(|(case, trials)| aggregate(case, trials))
        .collect();
    summarize(&suite.name, cases)
}

/// Submits the run and reads it to its end: its id, final status and every event.
async fn run_one(
    handle: &OrchestratorHandle,
    request: RunRequest,
) -> Result<(String, RunStatus, Vec<RunEvent>), String> {
    let run_id = handle.submit(request).await.map_err(|e| e.to_string())?;
    let stream = handle.events(run_id, 0).await.map_err(|e| e.to_string())?;
    let events: Vec<RunEvent> = stream.collect().await;
    let status = events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Finished { status } => Some((**status).clone()),
            _ => None,
        })
        .ok_or_else(|| format!("run {run_id} ended without a final status"))?;
    Ok((run_id.to_string(), status, events))
}

/// A trial whose run could not be had: failed, with why.
fn unrun(message: String) -> Observed {
    Observed {
        success: false,
        mode: Mode::Agent,
        summary: String::new(),
        error: Some(message),
        duration_ms: 0,
        actions: 0,
        input_tokens: 0,
        output_tokens: 0,
        recovery_used: false,
        playbook_hit: false,
        handoff_occurred: false,
        handoff_succeeded: false,
        estimated_cost_usd: 0.0,
        data: serde_json::Value::Object(Default::default()),
        extracted_texts: Vec::new(),
    }
}
