//! The recording side of each step: a screenshot of the page after the action, and the step's
//! line in `actions.jsonl`. Fields a credential was typed into are masked in every screenshot.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::RouterState;
use crate::browser::BrowserMsg;
use crate::event::ActionFailure;
use crate::page_driver::ActionOutput;
use crate::recording::ActionEntry;
use crate::request::Action;
use crate::run::ErrorCode;

/// Takes the step's screenshot; returns its path relative to the run's directory.
pub(super) async fn step_screenshot(
    state: &RouterState,
    step: u32,
    action: &Action,
    output: &Result<ActionOutput, ActionFailure>,
) -> Option<String> {
    let record = &state.record;
    if let Action::Type {
        selector,
        credential_ref: Some(_),
        ..
    } = action
    {
        // Typed into the focused element: mask every field, to be sure.
        record.recorder.mask(
            selector
                .as_deref()
                .unwrap_or("input, textarea, [contenteditable]"),
        );
    }
    // A screenshot action's own image is the step's screenshot.
    if let (Action::Screenshot { .. }, Ok(out)) = (action, output) {
        return out
            .value
            .as_ref()
            .and_then(|v| v.get("screenshot"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let browser_gone = matches!(output, Err(f) if matches!(f.code, ErrorCode::Cancelled | ErrorCode::BrowserCrashed));
    if !record.recorder.plan.screenshots || browser_gone || record.control.token().is_cancelled() {
        return None;
    }
    let jpeg = capture(state, step, state.call_timeout).await?;
    record
        .recorder
        .save_screenshot(&format!("{step:04}_{}", action.name()), &jpeg)
        .await
}

async fn capture(state: &RouterState, step: u32, limit: Duration) -> Option<Vec<u8>> {
    let masks = state.record.recorder.masks();
    let call = state.browser.call(
        |reply| BrowserMsg::Capture {
            screenshot: true,
            dom: false,
            masks,
            reply,
        },
        Some(limit),
    );
    let reply = tokio::select! {
        r = call => r,
        _ = state.record.control.token().cancelled() => return None,
    };
    match reply {
        Ok(ractor::rpc::CallResult::Success(Ok(capture))) => {
            if let Some(reason) = capture.withheld {
                let message = format!("step {step} screenshot withheld: {reason}");
                state.record.log("warn", &message);
            }
            capture.jpeg
        }
        Ok(ractor::rpc::CallResult::Success(Err(e))) => {
            state
                .record
                .recorder
                .problem(format!("step screenshot failed: {e}"));
            None
        }
        _ => None,
    }
}

/// The step's line in `actions.jsonl` (and the report).
pub(super) fn record_step(
    state: &RouterState,
    step: u32,
    action: &Action,
    output: &Result<ActionOutput, ActionFailure>,
    started_at: DateTime<Utc>,
    elapsed: Duration,
    screenshot: Option<String>,
) {
    state.record.recorder.record_action(ActionEntry {
        step,
        action: action.name().to_owned(),
        // A step may carry a captured secret as a parameter (`{session_cookie}`).
        input: state.record.scrubber.scrub(&action.summary()),
        params: serde_json::to_value(action)
            .ok()
            .map(|v| state.record.scrubber.scrub_value(v)),
        started_at,
        duration_ms: elapsed.as_millis() as u64,
        success: output.is_ok(),
        result: output
            .as_ref()
            .ok()
            .map(|o| ActionEntry::clip_result(&o.text)),
        error: output.as_ref().err().cloned(),
        url: output.as_ref().ok().and_then(|o| o.url.clone()),
        screenshot,
    });
}
