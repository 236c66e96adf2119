//! The playbook driver: binds parameters into each step, finds its element through the
//! selector fallbacks, runs it through the Router, verifies its effect, and on failure retries
//! once after a pause — then, for `on_failure: agent` with an agent configured, hands the run
//! to the agent driver with a bounded step budget and a prompt that says what failed, where,
//! and what was left to do.

mod auth;
mod capture;
mod verify;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use super::inject::inject;
use super::{bind, bind_str};
use crate::agent::AgentDriver;
use crate::driver::{Driver, DriverContext, DriverOutcome};
use crate::event::ActionFailure;
use crate::page_driver::ActionOutput;
use crate::request::{
    Action, AgentSpec, OnFailure, Playbook, PlaybookSpec, SelectorSpec, Step, WaitState,
};
use crate::run::{ErrorCode, RecoveryInfo, RunError, RunOutcome};
use verify::verify;

/// Runs one playbook.
pub(crate) struct PlaybookDriver {
    pub(crate) spec: PlaybookSpec,
    /// The request's `start_url`, used when the playbook has none.
    pub(crate) start_url: Option<String>,
}

impl Driver for PlaybookDriver {
    fn run(self: Box<Self>, ctx: DriverContext) -> BoxFuture<'static, DriverOutcome> {
        Box::pin(self.drive(ctx))
    }
}

enum StepResult {
    Done(ActionOutput),
    Failed(ActionFailure),
    Stopped,
}

fn failed(code: ErrorCode, message: String) -> DriverOutcome {
    DriverOutcome::Finished(RunOutcome::failed(RunError::new(code, message)))
}

fn failure(message: String) -> ActionFailure {
    ActionFailure {
        code: ErrorCode::ActionFailed,
        message,
    }
}

impl PlaybookDriver {
    async fn drive(self, ctx: DriverContext) -> DriverOutcome {
        let playbook = match self.spec.inlined() {
            Ok(playbook) => playbook,
            Err(e) => return failed(ErrorCode::InvalidRequest, e.to_string()),
        };
        let mut params = match playbook.resolve_params(&self.spec.params) {
            Ok(params) => params,
            Err(errors) => {
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return failed(ErrorCode::InvalidRequest, text.join("; "));
            }
        };
        let start = playbook
            .start_url
            .as_deref()
            .map(|u| bind_str(u, &params))
            .or(self.start_url.clone());
        if let Some(url) = start
            && let Some(outcome) = open_start_url(&ctx, url).await
        {
            return outcome;
        }
        note_reference_keys(&ctx, &playbook);
        if let Some(outcome) = auth::sign_in(&ctx, &playbook, &params).await {
            return outcome;
        }
        if let Some(block) = &playbook.capture
            && let Some(outcome) = capture::capture(&ctx, block, &mut params).await
        {
            return outcome;
        }
        for (i, step) in playbook.steps.iter().enumerate() {
            let n = i + 1;
            let step = match inject(bind_step(step, &params), i, &playbook.parameters, &params) {
                Ok(step) => step,
                Err(e) => return failed(ErrorCode::InvalidRequest, format!("step {n}: {e}")),
            };
            match self.run_step_with_retry(&ctx, n, &step).await {
                StepResult::Stopped => return DriverOutcome::Interrupted,
                StepResult::Done(out) => keep_result(&ctx, &step, out, &mut params),
                StepResult::Failed(f) => {
                    return self.step_failed(ctx, &playbook, n, &step, f).await;
                }
            }
        }
        DriverOutcome::Finished(RunOutcome::completed())
    }

    /// Runs a step; a failure that may be retried (not `on_failure: abort`, not a guardrail
    /// block) is retried once after `[playbooks] retry_pause_ms`.
    async fn run_step_with_retry(&self, ctx: &DriverContext, n: usize, step: &Step) -> StepResult {
        let result = self.run_step(ctx, step).await;
        let StepResult::Failed(f) = &result else {
            return result;
        };
        if step.on_failure == OnFailure::Abort || f.code == ErrorCode::GuardrailBlocked {
            return result;
        }
        let pause = Duration::from_millis(ctx.config.playbooks.retry_pause_ms);
        ctx.record.log(
            "warn",
            &format!(
                "step {n} ({}) failed: {}; retrying once in {} ms",
                step.label(),
                f.message,
                pause.as_millis()
            ),
        );
        let token = ctx.record.control.token().clone();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = token.cancelled() => return StepResult::Stopped,
        }
        self.run_step(ctx, step).await
    }

    /// A step that failed (twice where it may be retried): handed to the agent for
    /// `on_failure: agent` when one is configured, else the run fails naming the step.
    async fn step_failed(
        &self,
        ctx: DriverContext,
        playbook: &Playbook,
        n: usize,
        step: &Step,
        f: ActionFailure,
    ) -> DriverOutcome {
        if step.on_failure == OnFailure::Agent
            && let Some(agent) = self.recovery_agent(&ctx)
        {
            return self.hand_off(ctx, playbook, n, step, f, agent).await;
        }
        let message = step
            .failure_message
            .clone()
            .unwrap_or_else(|| format!("step {n} ({}): {}", step.label(), f.message));
        DriverOutcome::Finished(RunOutcome::failed(
            RunError::new(f.code, message).with_details(serde_json::json!({
                "step": n, "action": step.action, "error": f.message,
            })),
        ))
    }

    async fn run_step(&self, ctx: &DriverContext, step: &Step) -> StepResult {
        let selector = match &step.selector {
            None => None,
            Some(spec) => match pick_selector(ctx, spec).await {
                StepResult::Done(out) => Some(out.text),
                other => return other,
            },
        };
        let action = match step.action_with(selector.as_deref()) {
            Ok(action) => action,
            Err(e) => return StepResult::Failed(failure(e.to_string())),
        };
        let Some(result) = ctx.router.dispatch(action).await else {
            return StepResult::Stopped;
        };
        let out = match result.output {
            Ok(out) => out,
            Err(f) if f.code == ErrorCode::Cancelled => return StepResult::Stopped,
            Err(f) => return StepResult::Failed(f),
        };
        match &step.verify {
            None => StepResult::Done(out),
            Some(v) => match verify(ctx, v).await {
                StepResult::Done(_) => StepResult::Done(out),
                other => other,
            },
        }
    }

    /// The agent for hand-offs, when one is configured (request or `[agent]`).
    fn recovery_agent(&self, ctx: &DriverContext) -> Option<AgentSpec> {
        let given = self.spec.agent.clone();
        let config = &ctx.config.agent;
        let base_url = given
            .as_ref()
            .and_then(|a| a.base_url.clone())
            .or_else(|| config.base_url.clone())?;
        let model = given
            .as_ref()
            .and_then(|a| a.model.clone())
            .or_else(|| config.model.clone())?;
        let given = given.unwrap_or_default();
        Some(AgentSpec {
            directive: String::new(),
            model: Some(model),
            max_steps: None,
            base_url: Some(base_url),
            ..given
        })
    }

    async fn hand_off(
        &self,
        ctx: DriverContext,
        playbook: &Playbook,
        n: usize,
        step: &Step,
        failure: ActionFailure,
        mut agent: AgentSpec,
    ) -> DriverOutcome {
        let budget = ctx.config.agent.recovery_max_steps;
        let url = ctx.record.status().last_url.clone().unwrap_or_default();
        let goal = if playbook.description.is_empty() {
            playbook.name.clone()
        } else {
            playbook.description.clone()
        };
        agent.directive = format!("Finish the playbook \"{}\": {goal}", playbook.name);
        let preamble = hand_off_preamble(playbook, n, step, &failure, &url, &goal);
        ctx.record.status().recovery = Some(RecoveryInfo {
            step: n as u32,
            action: step.action.clone(),
            error: failure.message.clone(),
            handed_to: "agent".into(),
            max_steps: budget,
        });
        metrics::counter!("pilothouse_playbook_recoveries_total").increment(1);
        ctx.record.log(
            "warn",
            &format!(
                "step {n} ({}) failed twice: {}; handing the run to the agent ({budget} steps)",
                step.label(),
                failure.message
            ),
        );
        let driver = AgentDriver {
            spec: agent,
            start_url: None,
            preamble: Some(preamble),
            max_steps: Some(budget),
        };
        Box::new(driver).run(ctx).await
    }
}

/// Records the reference's keys that Pilothouse accepts but does not act on.
fn note_reference_keys(ctx: &DriverContext, playbook: &Playbook) {
    if playbook.auth_required && playbook.auth.is_none() {
        ctx.record.log(
            "info",
            &format!(
                "playbook `{}`: auth_required, no auth block; running its steps as written",
                playbook.id
            ),
        );
    }
    let llm_check = playbook
        .guardrails
        .as_ref()
        .and_then(|g| g.enable_llm_action_check);
    if let Some(on) = llm_check {
        ctx.record.log(
            "info",
            &format!(
                "playbook `{}`: enable_llm_action_check {on}; every action passes the \
                 rule-based guard (there is no model check)",
                playbook.id
            ),
        );
    }
}

/// Goes to the start URL; `Some(outcome)` when the run ends there (stopped, or the page
/// could not be opened).
async fn open_start_url(ctx: &DriverContext, url: String) -> Option<DriverOutcome> {
    let result = match ctx.router.dispatch(Action::Goto { url }).await {
        None => return Some(DriverOutcome::Interrupted),
        Some(result) => result,
    };
    match result.output {
        Ok(_) => None,
        Err(f) if f.code == ErrorCode::Cancelled => Some(DriverOutcome::Interrupted),
        Err(f) => Some(failed(f.code, format!("start_url: {}", f.message))),
    }
}

/// Keeps a step's result under its `store_as` name, as run data and as a parameter of the
/// steps after it.
fn keep_result(
    ctx: &DriverContext,
    step: &Step,
    out: ActionOutput,
    params: &mut BTreeMap<String, Value>,
) {
    if let Some(name) = &step.store_as {
        let value = out.value.unwrap_or(Value::String(out.text));
        ctx.record.keep_data(name, value.clone());
        params.insert(name.clone(), value);
    }
}

/// What the agent taking over is told: the playbook, the failed step, where the page is, and
/// the steps left.
fn hand_off_preamble(
    playbook: &Playbook,
    n: usize,
    step: &Step,
    failure: &ActionFailure,
    url: &str,
    goal: &str,
) -> String {
    let remaining: Vec<String> = playbook.steps[n..]
        .iter()
        .enumerate()
        .map(|(j, s)| format!("{}. {} — {}", n + j + 1, s.action, s.label()))
        .collect();
    format!(
        "You are taking over a playbook run that its script could not finish.\n\
         Playbook: {} ({}) — {goal}\n\
         Failed step {n} ({}): action `{}`, failed twice: {}\n\
         Current URL: {url}\n\
         Remaining steps after it:\n{}\n\
         Do the failed step's job another way if you can, then the remaining steps; call \
         done with what you achieved.",
        playbook.name,
        playbook.id,
        step.label(),
        step.action,
        failure.message,
        if remaining.is_empty() {
            "(none)".to_owned()
        } else {
            remaining.join("\n")
        },
    )
}

/// The step with `{name}` bound everywhere a string appears.
fn bind_step(step: &Step, params: &BTreeMap<String, Value>) -> Step {
    let value = serde_json::to_value(step).unwrap_or(Value::Null);
    serde_json::from_value(bind(value, params)).unwrap_or_else(|_| step.clone())
}

/// The first candidate selector that matches an element, probed in order with a short bound.
/// A lone selector is not probed (the action's own wait applies).
async fn pick_selector(ctx: &DriverContext, spec: &SelectorSpec) -> StepResult {
    let candidates = spec.candidates();
    if candidates.len() == 1 {
        return StepResult::Done(ActionOutput {
            text: candidates[0].to_owned(),
            ..ActionOutput::default()
        });
    }
    let Ok(found) = first_match(ctx, &candidates, WaitState::Attached).await else {
        return StepResult::Stopped;
    };
    let Some(k) = found else {
        return StepResult::Failed(failure(format!(
            "no element matches `{}` or its fallbacks ({})",
            candidates[0],
            candidates[1..].join(", ")
        )));
    };
    if k > 0 {
        ctx.record.log(
            "info",
            &format!(
                "selector `{}` matched nothing within {} ms; using fallback `{}`",
                candidates[0], ctx.config.playbooks.selector_probe_ms, candidates[k]
            ),
        );
    }
    StepResult::Done(ActionOutput {
        text: candidates[k].to_owned(),
        ..ActionOutput::default()
    })
}

/// The run was stopped while the driver waited.
pub(super) struct Stopped;

/// The index of the first of `candidates` whose element reaches `state`, each probed for
/// `[playbooks] selector_probe_ms` (a read-only inspection, not a step).
pub(super) async fn first_match(
    ctx: &DriverContext,
    candidates: &[&str],
    state: WaitState,
) -> Result<Option<usize>, Stopped> {
    let probe_ms = ctx.config.playbooks.selector_probe_ms;
    for (k, candidate) in candidates.iter().enumerate() {
        let probe = Action::WaitFor {
            selector: (*candidate).to_owned(),
            state,
            timeout_ms: Some(probe_ms),
        };
        match ctx.router.inspect(probe).await {
            None => return Err(Stopped),
            Some(Ok(_)) => return Ok(Some(k)),
            Some(Err(f)) if f.code == ErrorCode::Cancelled => return Err(Stopped),
            Some(Err(_)) => {}
        }
    }
    Ok(None)
}
