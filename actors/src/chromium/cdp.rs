//! Calls into the page over CDP `Runtime.evaluate`: our own scripts in the isolated world
//! (with a retry when a navigation replaced the document mid-call), and user scripts in the
//! page's main world; and the failures every CDP caller reports. The bottom of `chromium/`:
//! actions, observation, settling, screenshots and downloads all call through here, and it
//! imports none of them.

use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::js_protocol::runtime::{EvaluateParams, ExecutionContextId};
use serde_json::Value;

use crate::event::ActionFailure;
use crate::run::ErrorCode;

/// How often a call is retried when a navigation replaced the document mid-call.
const CONTEXT_LOSS_ATTEMPTS: u32 = 3;
/// Pause between those retries.
const CONTEXT_LOSS_PAUSE: Duration = Duration::from_millis(50);

/// Calls one of our page functions with one JSON argument in chromiumoxide's isolated utility
/// world, which shares the DOM but not the page's globals: a page that tampers with
/// `document.querySelector`, `Array.from` or `JSON.stringify` cannot break or steer our
/// scripts. Retries briefly when a navigation replaced the document mid-call, then falls back
/// to the page's own world.
pub(super) async fn call(page: &Page, function: &str, arg: Value) -> Result<Value, ActionFailure> {
    let expression = format!("({function})({arg})");
    for attempt in 1..=CONTEXT_LOSS_ATTEMPTS {
        let Some(world) = page.secondary_execution_context().await.ok().flatten() else {
            break;
        };
        match evaluate(page, &expression, Some(world)).await {
            Err(e) if is_context_loss(&e.message) => {
                if attempt < CONTEXT_LOSS_ATTEMPTS {
                    tokio::time::sleep(CONTEXT_LOSS_PAUSE).await;
                }
            }
            other => return other,
        }
    }
    evaluate(page, &expression, None).await
}

/// Evaluates an expression (awaiting promises) in `context`, or the page's main world.
pub(super) async fn evaluate(
    page: &Page,
    expression: &str,
    context: Option<ExecutionContextId>,
) -> Result<Value, ActionFailure> {
    let mut params = EvaluateParams::builder()
        .expression(expression)
        .await_promise(true)
        .return_by_value(true)
        .user_gesture(true);
    if let Some(context) = context {
        params = params.context_id(context);
    }
    let params = params.build().map_err(failed)?;
    let reply = page
        .execute(params)
        .await
        .map_err(|e| failed(format!("evaluate failed: {e}")))?
        .result;
    if let Some(ex) = reply.exception_details {
        let detail = ex
            .exception
            .as_ref()
            .and_then(|o| o.description.clone())
            .unwrap_or(ex.text);
        return Err(failed(format!("script threw: {detail}")));
    }
    Ok(reply.result.value.unwrap_or(Value::Null))
}

/// True when a call failed because a navigation replaced the document it ran in.
pub(super) fn is_context_loss(message: &str) -> bool {
    message.contains("context was destroyed")
        || message.contains("Cannot find context")
        || message.contains("Inspected target navigated")
}

/// An action that failed on the page (`ACTION_FAILED`).
pub(super) fn failed(message: impl Into<String>) -> ActionFailure {
    ActionFailure {
        code: ErrorCode::ActionFailed,
        message: message.into(),
    }
}

/// An action that failed because the browser process is gone (`BROWSER_CRASHED`).
pub(super) fn crashed(message: &str) -> ActionFailure {
    ActionFailure {
        code: ErrorCode::BrowserCrashed,
        message: format!("browser process exited: {message}"),
    }
}
