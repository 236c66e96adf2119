//! A playbook step's `verify`: the elements it names visible or gone, and the URL or the page
//! text containing what it says, all within the check's `timeout_ms`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{StepResult, failure};
use crate::driver::DriverContext;
use crate::page_driver::ActionOutput;
use crate::request::Verify;
use crate::request::{Action, WaitState};

/// Interval between polls of a URL or text verification.
const VERIFY_POLL: Duration = Duration::from_millis(100);

/// Every check of `verify`, within its timeout.
pub(super) async fn verify(ctx: &DriverContext, v: &Verify) -> StepResult {
    let deadline = Instant::now() + Duration::from_millis(v.timeout_ms);
    for (selector, state, check) in [
        (&v.element_visible, WaitState::Visible, "element_visible"),
        (&v.element_gone, WaitState::Hidden, "element_gone"),
    ] {
        let Some(selector) = selector else { continue };
        if let Some(stop) = verify_element(ctx, selector, state, check, deadline).await {
            return stop;
        }
    }
    for (needle, script, check) in [
        (&v.url_contains, "location.href", "url_contains"),
        (
            &v.text_on_page,
            "document.body ? document.body.innerText : ''",
            "text_on_page",
        ),
    ] {
        let Some(needle) = needle else { continue };
        if let Some(stop) = verify_text(ctx, needle, script, check, deadline, v.timeout_ms).await {
            return stop;
        }
    }
    StepResult::Done(ActionOutput::default())
}

/// Whether `seen` contains `needle`: as written for a URL; for page text as the reference's
/// `text=` match reads it, ignoring case and runs of white space.
fn contains_text(seen: &str, needle: &str, check: &str) -> bool {
    if check == "url_contains" {
        return seen.contains(needle);
    }
    let fold = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    fold(seen).contains(&fold(needle))
}

/// Milliseconds to `deadline`, at least 1.
fn ms_left(deadline: Instant) -> u64 {
    deadline
        .saturating_duration_since(Instant::now())
        .as_millis()
        .max(1) as u64
}

/// An `element_visible` / `element_gone` check: waits for `state` until `deadline`. `Some`:
/// the check failed or the run stopped.
async fn verify_element(
    ctx: &DriverContext,
    selector: &str,
    state: WaitState,
    check: &str,
    deadline: Instant,
) -> Option<StepResult> {
    let wait = Action::WaitFor {
        selector: selector.to_owned(),
        state,
        timeout_ms: Some(ms_left(deadline)),
    };
    match ctx.router.inspect(wait).await {
        None => Some(StepResult::Stopped),
        Some(Ok(_)) => None,
        Some(Err(f)) => Some(StepResult::Failed(failure(format!(
            "Verification failed: {check} `{selector}`: {}",
            f.message
        )))),
    }
}

/// A `url_contains` / `text_on_page` check: reads `script`'s text every `VERIFY_POLL` until it
/// contains `needle` or `deadline` passes. `Some`: the check failed or the run stopped.
async fn verify_text(
    ctx: &DriverContext,
    needle: &str,
    script: &str,
    check: &str,
    deadline: Instant,
    timeout_ms: u64,
) -> Option<StepResult> {
    loop {
        let read = Action::Evaluate {
            script: script.to_owned(),
            store_as: None,
        };
        let seen = match ctx.router.inspect(read).await {
            None => return Some(StepResult::Stopped),
            Some(Ok(out)) => {
                let seen = match out.value {
                    Some(Value::String(s)) => s,
                    _ => out.text,
                };
                if contains_text(&seen, needle, check) {
                    return None;
                }
                seen
            }
            Some(Err(f)) => format!("(unreadable: {})", f.message),
        };
        if Instant::now() >= deadline {
            let shown = if check == "url_contains" {
                format!(" (the URL is `{seen}`)")
            } else {
                String::new()
            };
            return Some(StepResult::Failed(failure(format!(
                "Verification failed: {check} `{needle}` not found within {timeout_ms} ms{shown}"
            ))));
        }
        tokio::time::sleep(VERIFY_POLL).await;
    }
}
