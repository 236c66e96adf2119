//! One action through the guards: the target checked before, the browser call raced against
//! the run's stop, and the landing URL checked after (leaving a forbidden page for about:blank).

use tracing::Instrument;

use super::RouterState;
use crate::browser::BrowserMsg;
use crate::event::{ActionFailure, EventKind};
use crate::guard::{Block, Phase};
use crate::page_driver::{ActionBounds, ActionOutput};
use crate::request::Action;
use crate::run::ErrorCode;

/// Guard → execute → post-navigation guard.
pub(super) async fn run_pipeline(
    state: &RouterState,
    action: &Action,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(target) = action.target_url() {
        let span = tracing::info_span!("guard_check", run_id = %state.record.id, phase = "before");
        let checked = state
            .guard
            .check_url(target, Phase::Before)
            .instrument(span)
            .await;
        if let Err(block) = checked {
            return Err(blocked(state, block, target));
        }
    }
    let (blocks_before, _) = state.record.request_blocks();
    let mut output = call_browser(state, action.clone()).await?;
    if action.may_navigate() {
        if let Some(url) = output.url.clone() {
            let url = url.as_str();
            let (blocks_after, last_block) = state.record.request_blocks();
            let refused_during_action = (blocks_after > blocks_before)
                .then_some(last_block)
                .flatten();
            let span =
                tracing::info_span!("guard_check", run_id = %state.record.id, phase = "landing");
            let checked = state
                .guard
                .check_url(url, Phase::Landing)
                .instrument(span)
                .await;
            let landing = match checked {
                Ok(()) if url.starts_with("chrome-error:") => match refused_during_action {
                    // The proxy refused the navigation: Chromium shows its error page.
                    Some((block, target)) => Err((block, target, false)),
                    None => Ok(()),
                },
                Ok(()) => Ok(()),
                // The proxy already reported this refusal; do not report it twice.
                Err(block) => Err((block, url.to_owned(), refused_during_action.is_none())),
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
            let admitted = state.limits().admit_landing(url);
            if let Err(block) = admitted {
                let _ = state
                    .browser
                    .call(BrowserMsg::Blank, Some(state.call_timeout))
                    .await;
                return Err(blocked(state, block.into(), url));
            }
            // Scrubbed at the browser seam; kept in events, status and the recording, so it
            // counts against the run's `max_data_bytes`.
            let shown = state.record.budget.take_text(url.to_owned());
            output.url = Some(shown.clone());
            let changed = state.record.status().last_url.as_deref() != Some(shown.as_str());
            if changed {
                state.record.status().last_url = Some(shown.clone());
                state.record.emit(EventKind::Navigated { url: shown });
            }
        }
    }
    Ok(output)
}

/// One browser call within the action's bounds (its own `timeout_ms` or the run's, and the
/// time left until the deadline), raced against the run's stop.
pub(super) async fn call_browser(
    state: &RouterState,
    action: Action,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(ms) = action.own_timeout_ms() {
        if ms > state.max_action_timeout_ms {
            return Err(ActionFailure {
                code: ErrorCode::ActionFailed,
                message: format!(
                    "{}.timeout_ms: {ms} exceeds the server's ceiling [limits] \
                     max_action_timeout_ms = {}",
                    action.name(),
                    state.max_action_timeout_ms
                ),
            });
        }
    }
    let limits = &state.record.limits;
    let bounds = ActionBounds::for_action(
        &action,
        limits.action_timeout_ms,
        limits.navigation_timeout_ms,
        state.record.control.time_left(),
    );
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

pub(super) fn blocked(state: &RouterState, block: Block, target: &str) -> ActionFailure {
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
