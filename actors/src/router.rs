//! The Router actor: the action pipeline of one run — guard the target, execute in the browser,
//! check where the page landed, keep results, and emit the action's events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::Instrument;

use crate::browser::BrowserMsg;
use crate::event::{ActionFailure, EventKind};
use crate::guard::Guard;
use crate::page_driver::ActionOutput;
use crate::record::{RunRecord, StopReason};
use crate::request::Action;
use crate::run::ErrorCode;

mod capture;
mod external;
mod limits;
mod output;
mod pipeline;

/// Longest result text carried in an action event (drivers get the whole text).
const EVENT_RESULT_MAX_CHARS: usize = 300;

/// What a driver learns from one dispatched action.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ActionResult {
    pub(crate) step: u32,
    pub(crate) output: Result<ActionOutput, ActionFailure>,
}

/// Messages of the Router actor.
pub(crate) enum RouterMsg {
    /// Run one action through the pipeline.
    Dispatch {
        action: Action,
        reply: RpcReplyPort<ActionResult>,
    },
    /// A driver's read-only look at the page (a selector probe, a verification, an agent's page
    /// map): `wait_for`, `evaluate` or `observe` only; no guard, no event, not a step.
    Inspect {
        action: Action,
        reply: RpcReplyPort<Result<ActionOutput, ActionFailure>>,
    },
}

/// Startup arguments of the Router actor.
pub(crate) struct RouterArgs {
    pub(crate) record: Arc<RunRecord>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) browser: ActorRef<BrowserMsg>,
    pub(crate) call_timeout: Duration,
    /// `[limits] max_action_timeout_ms`: the most an action's own `timeout_ms` may ask for
    /// (a script's is checked at submit; an agent's or a playbook's only here).
    pub(crate) max_action_timeout_ms: u64,
    /// `[limits] max_result_bytes`: the most an `api_request` reads of a response body.
    pub(crate) max_result_bytes: usize,
    /// The model client and `[agent]`, for `llm_extract`.
    pub(crate) llm: crate::llm::SharedLlm,
    pub(crate) agent: crate::config::AgentConfig,
    /// `[safety] validate_clicks`, for a run a model drives.
    pub(crate) clicks: Option<crate::safety::ClickValidator>,
}

/// Router state.
pub(crate) struct RouterState {
    record: Arc<RunRecord>,
    browser: ActorRef<BrowserMsg>,
    guard: Arc<Guard>,
    /// Plain state: the router handles one message at a time, and the pipeline holds the
    /// state mutably for the action it runs.
    limits: limits::RunLimits,
    call_timeout: Duration,
    max_action_timeout_ms: u64,
    max_result_bytes: usize,
    llm: crate::llm::SharedLlm,
    agent: crate::config::AgentConfig,
    clicks: Option<crate::safety::ClickValidator>,
    steps: u32,
}

impl RouterState {
    /// The run's limits: task kind, pages visited, errors in a row, stuck detection.
    fn limits(&mut self) -> &mut limits::RunLimits {
        &mut self.limits
    }
}

/// One run's action pipeline.
pub(crate) struct RouterActor;

impl Actor for RouterActor {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: RouterArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(RouterState {
            guard: args.guard,
            limits: limits::RunLimits::new(&args.record),
            record: args.record,
            browser: args.browser,
            call_timeout: args.call_timeout,
            max_action_timeout_ms: args.max_action_timeout_ms,
            max_result_bytes: args.max_result_bytes,
            llm: args.llm,
            agent: args.agent,
            clicks: args.clicks,
            steps: 0,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RouterMsg::Dispatch { action, reply } => {
                let result = on_dispatch(state, action).await;
                let _ = reply.send(result);
            }
            RouterMsg::Inspect { action, reply } => {
                let _ = reply.send(on_inspect(state, action).await);
            }
        }
        Ok(())
    }
}

/// A driver's read-only look at the page: not guarded, not evented, not a step. An `observe`
/// is blinded as a dispatched one is (destructive controls hidden, injections redacted,
/// content delimited).
async fn on_inspect(state: &RouterState, action: Action) -> Result<ActionOutput, ActionFailure> {
    if !matches!(
        action,
        Action::WaitFor { .. } | Action::Evaluate { .. } | Action::Observe { store_as: None }
    ) {
        return Err(ActionFailure {
            code: ErrorCode::InternalError,
            message: format!("`{}` is not a read-only inspection", action.name()),
        });
    }
    // The browser seam already scrubbed and cut what comes back.
    let out = pipeline::call_browser(state, action.clone()).await?;
    let out = pipeline::hide_destructive(state, &action, out);
    Ok(output::screen(state, &action, out))
}

async fn on_dispatch(state: &mut RouterState, action: Action) -> ActionResult {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    state.steps += 1;
    let step = state.steps;
    let span =
        tracing::info_span!("action", run_id = %state.record.id, step, action = action.name());
    let output = if step > state.record.limits.max_steps {
        Err(ActionFailure {
            code: ErrorCode::ActionFailed,
            message: format!("max_steps ({}) reached", state.record.limits.max_steps),
        })
    } else if let Err(block) = state.limits().check_before(&action) {
        Err(pipeline::blocked(state, block.into(), action.name()))
    } else if let Action::Sequence { steps } = &action {
        run_sequence(state, step, steps).instrument(span).await
    } else {
        run_one(state, &format!("{step:04}"), &action)
            .instrument(span)
            .await
    };
    let output = apply_judgement(state, &action, output);
    // An error can quote the page: it is kept in events and the recording, so it counts
    // against the run's `max_data_bytes`.
    let output = output.map_err(|mut f| {
        f.message = state.record.budget.take_text(f.message);
        f
    });
    let elapsed = started.elapsed();
    let screenshot = capture::step_screenshot(state, step, &action, &output).await;
    capture::record_step(
        state,
        step,
        &action,
        &output,
        started_at,
        elapsed,
        screenshot.clone(),
    );
    finish_step(state, step, &action, &output, elapsed, screenshot);
    ActionResult { step, output }
}

/// Stuck detection and the consecutive-error limit: a nudge is prepended to the result the
/// driver sees; a stop ends the run with STUCK.
fn apply_judgement(
    state: &mut RouterState,
    action: &Action,
    output: Result<ActionOutput, ActionFailure>,
) -> Result<ActionOutput, ActionFailure> {
    let judgement = state.limits().judge(action, &output);
    let (verdict, stop) = match judgement {
        limits::Judgement::Fine => return output,
        limits::Judgement::Nudge(v) => (v, false),
        limits::Judgement::Stop(v) => (v, true),
    };
    state.record.emit(EventKind::Stuck {
        severity: verdict.severity,
        pattern: verdict.pattern.to_owned(),
        message: verdict.message.clone(),
    });
    metrics::counter!("pilothouse_stuck_detections_total", "pattern" => verdict.pattern)
        .increment(1);
    if stop {
        state
            .record
            .control
            .stop(StopReason::Stuck(verdict.message.clone()));
    }
    let note = format!("[stuck {:?}] {}", verdict.severity, verdict.message);
    match output {
        Ok(mut out) => {
            out.text = format!("{note}\n{}", out.text);
            Ok(out)
        }
        Err(mut failure) => {
            failure.message = format!("{} ({note})", failure.message);
            Err(failure)
        }
    }
}

/// One action: credentials resolved, guards, browser, screening, results kept.
async fn run_one(
    state: &mut RouterState,
    file_stem: &str,
    action: &Action,
) -> Result<ActionOutput, ActionFailure> {
    let executable = output::materialize(state, action)?;
    // What comes back passed the browser seam (or, for the steps the orchestrator runs
    // itself, the run's scrubber): scrubbed, then cut to max_result_bytes.
    let out = match &executable {
        Action::ApiRequest { request, .. } => external::api_request(state, request).await?,
        Action::LlmExtract { prompt, schema, .. } => {
            external::llm_extract(state, prompt, schema.as_ref()).await?
        }
        _ => pipeline::run_pipeline(state, &executable).await?,
    };
    let out = output::screen(state, action, out);
    output::keep_results(state, file_stem, action, out).await
}

/// The steps of a `sequence`, each guarded and timed on its own; stops at the first failure,
/// reporting "step i (action): error" after the partial results.
async fn run_sequence(
    state: &mut RouterState,
    step: u32,
    steps: &[Action],
) -> Result<ActionOutput, ActionFailure> {
    pipeline::check_sequence(state, steps).await?;
    let mut lines = Vec::with_capacity(steps.len());
    let mut last_url = None;
    for (i, sub) in steps.iter().enumerate() {
        let n = i + 1;
        let started = Instant::now();
        match run_one(state, &format!("{step:04}_{n:02}"), sub).await {
            Ok(out) => {
                let ms = started.elapsed().as_millis();
                lines.push(format!("Step {n} ({}) [{ms}ms]: {}", sub.name(), out.text));
                last_url = out.url.or(last_url);
            }
            Err(failure) => {
                let partial = if lines.is_empty() {
                    String::new()
                } else {
                    format!(" (after: {})", lines.join("; "))
                };
                return Err(ActionFailure {
                    code: failure.code,
                    message: format!("step {n} ({}): {}{partial}", sub.name(), failure.message),
                });
            }
        }
    }
    Ok(ActionOutput {
        text: lines.join("\n"),
        url: last_url,
        ..ActionOutput::default()
    })
}

fn finish_step(
    state: &RouterState,
    step: u32,
    action: &Action,
    output: &Result<ActionOutput, ActionFailure>,
    elapsed: Duration,
    screenshot: Option<String>,
) {
    let outcome = if output.is_ok() { "ok" } else { "error" };
    metrics::counter!("pilothouse_actions_total", "action" => action.name(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("pilothouse_action_duration_seconds", "action" => action.name())
        .record(elapsed.as_secs_f64());
    state.record.status().action_count = step;
    state.record.emit(EventKind::Action {
        step,
        action: action.name().to_owned(),
        // A step may carry a captured secret as a parameter (`{session_cookie}`).
        input: state.record.scrubber.scrub(&action.summary()),
        duration_ms: elapsed.as_millis() as u64,
        success: output.is_ok(),
        result: output
            .as_ref()
            .ok()
            .map(|o| crate::request::clip(&o.text, EVENT_RESULT_MAX_CHARS)),
        error: output.as_ref().err().cloned(),
        screenshot,
        settle: output.as_ref().ok().and_then(|o| o.settle),
    });
}
