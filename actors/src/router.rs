//! The Router actor: the action pipeline of one run — guard the target, execute in the browser,
//! check where the page landed, keep results, and emit the action's events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::browser::BrowserMsg;
use crate::event::{ActionFailure, EventKind};
use crate::guard::{Block, Guard, Phase};
use crate::page_driver::{ActionBounds, ActionOutput};
use crate::record::RunRecord;
use crate::request::Action;
use crate::run::ErrorCode;

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
}

/// Startup arguments of the Router actor.
pub(crate) struct RouterArgs {
    pub(crate) record: Arc<RunRecord>,
    pub(crate) guard: Arc<Guard>,
    pub(crate) browser: ActorRef<BrowserMsg>,
    pub(crate) call_timeout: Duration,
}

/// Router state.
pub(crate) struct RouterState {
    record: Arc<RunRecord>,
    browser: ActorRef<BrowserMsg>,
    guard: Arc<Guard>,
    call_timeout: Duration,
    steps: u32,
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
            record: args.record,
            browser: args.browser,
            call_timeout: args.call_timeout,
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
        }
        Ok(())
    }
}

async fn on_dispatch(state: &mut RouterState, action: Action) -> ActionResult {
    let started = Instant::now();
    state.steps += 1;
    let step = state.steps;
    let span =
        tracing::info_span!("action", run_id = %state.record.id, step, action = action.name());
    let output = if step > state.record.limits.max_steps {
        Err(ActionFailure {
            code: ErrorCode::ActionFailed,
            message: format!("max_steps ({}) reached", state.record.limits.max_steps),
        })
    } else {
        run_pipeline(state, &action).instrument(span).await
    };
    let output = match output {
        Ok(out) => keep_results(state, step, &action, out).await,
        Err(e) => Err(e),
    };
    finish_step(state, step, &action, &output, started.elapsed());
    ActionResult { step, output }
}

/// Guard → execute → post-navigation guard.
async fn run_pipeline(state: &RouterState, action: &Action) -> Result<ActionOutput, ActionFailure> {
    if let Some(target) = action.target_url() {
        if let Err(block) = state.guard.check_url(target, Phase::Before).await {
            return Err(blocked(state, block, target));
        }
    }
    let bounds = ActionBounds {
        action: Duration::from_millis(state.record.limits.action_timeout_ms),
        navigation: Duration::from_millis(state.record.limits.navigation_timeout_ms),
    };
    let (blocks_before, _) = state.record.request_blocks();
    let output = call_browser(state, action.clone(), bounds).await?;
    if action.may_navigate() {
        if let Some(url) = &output.url {
            let (blocks_after, last_block) = state.record.request_blocks();
            let refused_during_action = (blocks_after > blocks_before)
                .then_some(last_block)
                .flatten();
            let landing = match state.guard.check_url(url, Phase::Landing).await {
                Ok(()) if url.starts_with("chrome-error:") => match refused_during_action {
                    // The proxy refused the navigation: Chromium shows its error page.
                    Some((block, target)) => Err((block, target, false)),
                    None => Ok(()),
                },
                Ok(()) => Ok(()),
                // The proxy already reported this refusal; do not report it twice.
                Err(block) => Err((block, url.clone(), refused_during_action.is_none())),
            };
            if let Err((block, target, report)) = landing {
                // Leave the forbidden page before anything else reads it.
                let _ = state
                    .browser
                    .call(BrowserMsg::Blank, Some(state.call_timeout))
                    .await;
                return Err(if report {
                    blocked(state, block, &target)
                } else {
                    refusal(&block)
                });
            }
            let changed = state.record.status().last_url.as_deref() != Some(url.as_str());
            if changed {
                state.record.status().last_url = Some(url.clone());
                state.record.emit(EventKind::Navigated { url: url.clone() });
            }
        }
    }
    Ok(output)
}

async fn call_browser(
    state: &RouterState,
    action: Action,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    let token = state.record.control.token().clone();
    let call = state.browser.call(
        |reply| BrowserMsg::Execute {
            action,
            bounds,
            reply,
        },
        None,
    );
    tokio::select! {
        reply = call => match reply {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            Ok(_) | Err(_) => Err(ActionFailure {
                code: ErrorCode::BrowserCrashed,
                message: "the browser actor is gone".into(),
            }),
        },
        _ = token.cancelled() => Err(ActionFailure {
            code: ErrorCode::Cancelled,
            message: "interrupted: the run was stopped".into(),
        }),
    }
}

fn blocked(state: &RouterState, block: Block, target: &str) -> ActionFailure {
    metrics::counter!("pilothouse_guardrail_blocks_total", "check" => block.check).increment(1);
    state.record.emit(EventKind::GuardrailBlocked {
        check: block.check.to_owned(),
        reason: block.reason.clone(),
        target: target.to_owned(),
    });
    refusal(&block)
}

fn refusal(block: &Block) -> ActionFailure {
    ActionFailure {
        code: ErrorCode::GuardrailBlocked,
        message: format!("Guardrail blocked: {}", block.reason),
    }
}

/// Stores `store_as` values and screenshot files; a failed screenshot write fails the action.
async fn keep_results(
    state: &RouterState,
    step: u32,
    action: &Action,
    mut out: ActionOutput,
) -> Result<ActionOutput, ActionFailure> {
    if let (Some(name), Some(value)) = (action.store_as(), &out.value) {
        state
            .record
            .status()
            .data
            .insert(name.to_owned(), value.clone());
    }
    if let Some(bytes) = out.screenshot.take() {
        let rel = format!("recording/screenshots/{step:04}_{}.jpg", action.name());
        let path = state.record.dir.join(&rel);
        let written = async {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::write(&path, &bytes).await
        }
        .await;
        if let Err(e) = written {
            return Err(ActionFailure {
                code: ErrorCode::ActionFailed,
                message: format!("cannot write screenshot {}: {e}", path.display()),
            });
        }
        out.value = Some(json!({ "screenshot": rel, "bytes": bytes.len() }));
    }
    Ok(out)
}

fn finish_step(
    state: &RouterState,
    step: u32,
    action: &Action,
    output: &Result<ActionOutput, ActionFailure>,
    elapsed: Duration,
) {
    let outcome = if output.is_ok() { "ok" } else { "error" };
    metrics::counter!("pilothouse_actions_total", "action" => action.name(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("pilothouse_action_duration_seconds", "action" => action.name())
        .record(elapsed.as_secs_f64());
    state.record.status().action_count = step;
    let screenshot = output
        .as_ref()
        .ok()
        .and_then(|o| o.value.as_ref())
        .filter(|_| matches!(action, Action::Screenshot { .. }))
        .and_then(|v| v.get("screenshot"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    state.record.emit(EventKind::Action {
        step,
        action: action.name().to_owned(),
        input: action.summary(),
        duration_ms: elapsed.as_millis() as u64,
        success: output.is_ok(),
        result: output.as_ref().ok().map(|o| o.text.clone()),
        error: output.as_ref().err().cloned(),
        screenshot,
    });
}
