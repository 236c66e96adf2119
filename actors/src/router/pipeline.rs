//! One action through the guards: the target checked before (a destination, or a click's
//! control against the destructive tiers of the task kind), the browser call raced against the
//! run's stop, and the landing URL checked after (leaving a forbidden page for about:blank). A
//! `sequence` is checked whole before its first step runs.

use tracing::Instrument;

use super::RouterState;
use crate::browser::BrowserMsg;
use crate::event::{ActionFailure, EventKind};
use crate::guard::{Block, Phase, find_destructive, hide_controls, label_from_html};
use crate::page_driver::{ActionBounds, ActionOutput};
use crate::request::{Action, ExtractMode};
use crate::run::ErrorCode;

/// Guard → execute → post-navigation guard.
pub(super) async fn run_pipeline(
    state: &mut RouterState,
    action: &Action,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(target) = action.target_url() {
        check_target(state, target).await?;
    }
    if let Action::Click { selector } = action {
        check_click(state, selector).await?;
    }
    let (blocks_before, _) = state.record.request_blocks();
    let output = call_browser(state, action.clone()).await?;
    let mut output = hide_destructive(state, action, output);
    if action.may_navigate()
        && let Some(url) = output.url.clone()
    {
        check_landing(state, &url, blocks_before).await?;
        output.url = Some(note_landing(state, action, url));
    }
    Ok(output)
}

/// The destination of an action, checked before it runs.
async fn check_target(state: &RouterState, target: &str) -> Result<(), ActionFailure> {
    let span = tracing::info_span!("guard_check", run_id = %state.record.id, phase = "before");
    let checked = state
        .guard
        .check_url(target, Phase::Before)
        .instrument(span)
        .await;
    checked.map_err(|block| blocked(state, block, target))
}

/// Where the page landed, checked after the action (and against the run's limits): a
/// forbidden landing is left for about:blank before anything else reads it. `blocks_before`
/// tells a navigation the proxy refused during the action (Chromium then shows its error
/// page, and the refusal is already reported).
async fn check_landing(
    state: &mut RouterState,
    url: &str,
    blocks_before: u64,
) -> Result<(), ActionFailure> {
    let (blocks_after, last_block) = state.record.request_blocks();
    let refused_during_action = (blocks_after > blocks_before)
        .then_some(last_block)
        .flatten();
    let span = tracing::info_span!("guard_check", run_id = %state.record.id, phase = "landing");
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
        leave_page(state).await;
        return Err(if report {
            blocked(state, block, &target)
        } else {
            refusal(&block)
        });
    }
    let admitted = state.limits().admit_landing(url);
    if let Err(block) = admitted {
        leave_page(state).await;
        return Err(blocked(state, block.into(), url));
    }
    Ok(())
}

/// Navigates the run's page to about:blank.
async fn leave_page(state: &RouterState) {
    let _ = state
        .browser
        .call(BrowserMsg::Blank, Some(state.call_timeout))
        .await;
}

/// Records an admitted landing: the URL as the run keeps it (returned), a visit for revisit
/// detection, and a `navigated` event when the page changed.
fn note_landing(state: &mut RouterState, action: &Action, url: String) -> String {
    // Scrubbed at the browser seam; kept in events, status and the recording, so it
    // counts against the run's `max_data_bytes`.
    let shown = state.record.budget.take_text(url);
    let changed = state.record.status().last_url.as_deref() != Some(shown.as_str());
    // Only real visits feed revisit detection: a goto, or a page that changed.
    if changed || matches!(action, Action::Goto { .. }) {
        state.limits().note_visit(&shown);
    }
    if changed {
        state.record.status().last_url = Some(shown.clone());
        state
            .record
            .emit(EventKind::Navigated { url: shown.clone() });
    }
    shown
}

/// Refuses, before it reaches the browser, a click on a control the task kind may not use (see
/// `check_destructive`), then one the `[safety]` click validator judges destructive.
async fn check_click(state: &mut RouterState, selector: &str) -> Result<(), ActionFailure> {
    let label = check_destructive(state, selector).await?;
    let Some(validator) = state.clicks.as_mut() else {
        return Ok(());
    };
    let url = state.record.status().last_url.clone();
    let verdict = tokio::select! {
        v = validator.check(selector, &label, url.as_deref()) => v,
        _ = state.record.control.token().cancelled() => return Err(ActionFailure {
            code: ErrorCode::Cancelled,
            message: "interrupted: the run was stopped".into(),
        }),
    };
    let (verdict, usage) = verdict;
    state.record.add_usage(&usage);
    match verdict {
        Ok(()) => Ok(()),
        Err(reason) => {
            let reason = state.record.scrubber.scrub(&reason);
            Err(blocked(
                state,
                Block::new("click_validator", reason),
                selector,
            ))
        }
    }
}

/// Refuses a click on a control the task kind may not use: by its selector, then by the
/// element's own label (read from its HTML, so the check needs no page script of its own); the
/// label when neither is refused. A selector that matches nothing fails as the click would.
async fn check_destructive(state: &RouterState, selector: &str) -> Result<String, ActionFailure> {
    let kind = state.record.request.guardrails.kind();
    let refuse = |found: crate::guard::Destructive, what: String| {
        let reason = found.reason(kind, &what);
        blocked(state, Block::new("destructive", reason), selector)
    };
    if let Some(found) = find_destructive(kind, selector) {
        return Err(refuse(found, format!("the selector `{selector}`")));
    }
    let probe = Action::Extract {
        selector: Some(selector.to_owned()),
        mode: ExtractMode::Html,
        store_as: None,
    };
    let html = call_browser(state, probe).await.map_err(|mut f| {
        f.message = format!(
            "click {selector}: {}",
            f.message.trim_start_matches("extract: ")
        );
        f
    })?;
    let label = label_from_html(&html.text);
    match find_destructive(kind, &label) {
        Some(found) => Err(refuse(found, format!("the element `{selector}`"))),
        None => Ok(label),
    }
}

/// `observe` without the controls the task kind may not click.
pub(super) fn hide_destructive(
    state: &RouterState,
    action: &Action,
    mut out: ActionOutput,
) -> ActionOutput {
    if !matches!(action, Action::Observe { .. }) {
        return out;
    }
    let kind = state.record.request.guardrails.kind();
    let (text, hidden) = hide_controls(kind, &out.text);
    if hidden > 0 {
        out.text = text;
        if let Some(serde_json::Value::String(value)) = &mut out.value {
            *value = hide_controls(kind, value).0;
        }
        state.record.log(
            "info",
            &format!(
                "observe: hid {hidden} destructive control(s) that {} tasks may not click",
                kind.as_str()
            ),
        );
    }
    out
}

/// Checks a `sequence` whole before its first step runs: each step's task kind and page
/// limit, each goto's destination, each click's selector. A refusal names the step.
pub(super) async fn check_sequence(
    state: &mut RouterState,
    steps: &[Action],
) -> Result<(), ActionFailure> {
    let kind = state.record.request.guardrails.kind();
    for (i, step) in steps.iter().enumerate() {
        let checked = state.limits().check_before(step).map_err(Block::from);
        let checked = match (checked, step.target_url()) {
            (Ok(()), Some(url)) => state.guard.check_url(url, Phase::Before).await,
            (other, _) => other,
        };
        let checked = checked.and_then(|()| match step {
            Action::Click { selector } => match find_destructive(kind, selector) {
                Some(found) => Err(Block::new(
                    "destructive",
                    found.reason(kind, &format!("the selector `{selector}`")),
                )),
                None => Ok(()),
            },
            _ => Ok(()),
        });
        if let Err(block) = checked {
            let target = step.target_url().unwrap_or(step.name()).to_owned();
            let mut failure = blocked(state, block, &target);
            failure.message = format!(
                "step {} ({}): {}; the sequence was refused before its first step ran",
                i + 1,
                step.name(),
                failure.message
            );
            return Err(failure);
        }
    }
    Ok(())
}

/// One browser call within the action's bounds (its own `timeout_ms` or the run's, and the
/// time left until the deadline), raced against the run's stop.
pub(super) async fn call_browser(
    state: &RouterState,
    action: Action,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(ms) = action.own_timeout_ms()
        && ms > state.max_action_timeout_ms
    {
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
