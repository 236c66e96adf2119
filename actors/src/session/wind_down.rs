//! The end of a run, inside its own subtree. Once the driver is done, the Session — which owns
//! the run's Browser — captures the final page and closes the browser through that child, hands
//! the Finalizer the artifacts (never the Browser actor), and waits for its reply that the run
//! is committed. Then the Session stops itself, and the Supervisor frees the run's slot when it
//! sees its child end.
//!
//! This runs in a task the Session owns, not in a handler: capture and close take up to
//! seconds, and the Session's mailbox stays free for its children's supervision events
//! meanwhile. The task is aborted when the Session stops normally, which it does only after the
//! reply. When the Session is killed or fails instead, ractor skips `post_stop` and the task
//! carries on, so a run already handed over is still committed; its children died with the
//! Session (the page driver's drop guard killed Chromium), so a capture or close then finds no
//! browser. The order is architecture §2's: capture → close → (in the Finalizer) persist →
//! upload → terminal event → metrics → reply → the slot is freed.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use ractor::ActorRef;
use ractor::rpc::CallResult;
use tracing::Instrument;

use super::SessionMsg;
use crate::browser::BrowserMsg;
use crate::finalizer::{FinalArtifacts, FinalizeJob, FinalizerMsg};
use crate::page_driver::{BrowserError, Capture, CloseMode};
use crate::record::RunRecord;
use crate::request::RecordingPlan;
use crate::run::{ErrorCode, RunOutcome, RunState};

/// Bound on capturing the final page.
const FINAL_CAPTURE_TIMEOUT: Duration = Duration::from_secs(3);

impl WindDown {
    /// Starts the wind-down in a task; the caller keeps the handle and aborts it on stop.
    pub(super) fn spawn(self, session: ActorRef<SessionMsg>) -> tokio::task::JoinHandle<()> {
        let span = tracing::info_span!("wind_down", run_id = %self.record.id);
        tokio::spawn(self.run(session).instrument(span))
    }

    async fn run(self, session: ActorRef<SessionMsg>) {
        let WindDown {
            record,
            outcome,
            browser,
            finalizer,
            bounds,
        } = self;
        let artifacts = match browser {
            Some(browser) => {
                // Whatever goes wrong here, a panic included, the run is still handed over.
                let ended = capture_and_close(&record, &browser, &outcome, bounds);
                match AssertUnwindSafe(ended).catch_unwind().await {
                    Ok(artifacts) => artifacts,
                    Err(payload) => {
                        let message = panic_message(payload.as_ref());
                        tracing::error!(run_id = %record.id, %message, "final capture or close panicked");
                        // Killing the actor drops its page driver, whose guard kills Chromium.
                        browser.kill();
                        FinalArtifacts {
                            panicked: Some(message),
                            ..FinalArtifacts::none()
                        }
                    }
                }
            }
            None => FinalArtifacts::none(),
        };
        let run_id = record.id;
        let job = FinalizeJob {
            record,
            outcome,
            artifacts,
        };
        // No bound: an upload retries within its own; the job's supervisor always answers,
        // even for a job that panicked, and a dropped reply port ends the wait too.
        let answer = finalizer
            .call(|reply| FinalizerMsg::Finalize(Box::new(job), reply), None)
            .await;
        if !matches!(answer, Ok(CallResult::Success(()))) {
            tracing::error!(%run_id, "the finalizer did not take the run; it is not committed");
        }
        session.stop(Some("finalized".into()));
    }
}

/// Steps 1 and 2 of finalization, through the session's own Browser child.
async fn capture_and_close(
    record: &RunRecord,
    browser: &ActorRef<BrowserMsg>,
    outcome: &RunOutcome,
    bounds: CloseBounds,
) -> FinalArtifacts {
    let run_id = record.id;
    let capture = capture_final(record, browser, outcome)
        .instrument(tracing::info_span!("finalize_step", %run_id, step = "capture"))
        .await;
    let close_problem = close(browser, outcome, bounds)
        .instrument(tracing::info_span!("finalize_step", %run_id, step = "close_browser"))
        .await;
    FinalArtifacts {
        capture,
        close_problem,
        panicked: None,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The final screenshot and DOM, when the run reached its page and the browser still answers.
async fn capture_final(
    record: &RunRecord,
    browser: &ActorRef<BrowserMsg>,
    outcome: &RunOutcome,
) -> Option<Result<Capture, BrowserError>> {
    let RecordingPlan {
        screenshots,
        final_dom,
        ..
    } = record.recorder.plan;
    let crashed = outcome
        .error
        .as_ref()
        .is_some_and(|e| e.code == ErrorCode::BrowserCrashed);
    let reached_a_page = record.status().action_count > 0;
    if crashed || !reached_a_page || !(screenshots || final_dom) {
        return None;
    }
    let masks = record.recorder.masks();
    let reply = browser
        .call(
            |reply| BrowserMsg::Capture {
                screenshot: screenshots,
                dom: final_dom,
                masks,
                reply,
            },
            Some(FINAL_CAPTURE_TIMEOUT),
        )
        .await;
    Some(match reply {
        Ok(CallResult::Success(result)) => result,
        Ok(CallResult::Timeout) => Err(BrowserError::Timeout {
            what: "the browser's answer",
            limit: FINAL_CAPTURE_TIMEOUT,
        }),
        // The actor is gone (it failed): nothing left to capture.
        Ok(CallResult::SenderError) | Err(_) => Err(BrowserError::NotRunning),
    })
}

/// Ends the browser and waits for its processes; returns what is worth recording. A browser
/// that does not answer within its bound is killed: its page driver's drop guard kills the
/// process group. A browser actor already gone (it failed) took its processes with it.
async fn close(
    browser: &ActorRef<BrowserMsg>,
    outcome: &RunOutcome,
    bounds: CloseBounds,
) -> Option<BrowserError> {
    let mode = close_mode(outcome, bounds.graceful);
    let closed = browser
        .call(|reply| BrowserMsg::Close(mode, reply), Some(bounds.call))
        .await;
    match closed {
        Ok(CallResult::Success(report)) => {
            browser.stop(None);
            report.problem
        }
        Ok(CallResult::Timeout) => {
            browser.kill();
            Some(BrowserError::Timeout {
                what: "closing the browser (its actor and process group were killed)",
                limit: bounds.call,
            })
        }
        Ok(CallResult::SenderError) | Err(_) => None,
    }
}

/// A run that was stopped, timed out or lost its browser ends it at once; a run that finished
/// on its own lets Chromium exit cleanly.
fn close_mode(outcome: &RunOutcome, graceful: Duration) -> CloseMode {
    match (outcome.state, outcome.error.as_ref().map(|e| e.code)) {
        (RunState::Cancelled | RunState::TimedOut, _)
        | (_, Some(ErrorCode::BrowserCrashed | ErrorCode::InternalError)) => CloseMode::Kill,
        _ => CloseMode::Graceful(graceful),
    }
}

/// A finished run on its way to the Finalizer.
pub(super) struct WindDown {
    pub(super) record: Arc<RunRecord>,
    pub(super) outcome: RunOutcome,
    /// The session's own Browser child, when it has one.
    pub(super) browser: Option<ActorRef<BrowserMsg>>,
    pub(super) finalizer: ActorRef<FinalizerMsg>,
    pub(super) bounds: CloseBounds,
}

/// Time bounds of the close.
#[derive(Clone, Copy, Debug)]
pub(super) struct CloseBounds {
    /// `[timeouts] close_ms`: how long a graceful close waits for Chromium to exit.
    pub(super) graceful: Duration,
    /// The whole close call: the graceful bound plus `[timeouts] actor_call_ms`.
    pub(super) call: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunError;

    #[test]
    fn stopped_crashed_and_broken_runs_kill_the_rest_close_gracefully() {
        let graceful = Duration::from_millis(5_000);
        let failed = |code| RunOutcome::failed(RunError::new(code, "x"));
        let kill = [
            RunOutcome::cancelled("cancelled"),
            failed(ErrorCode::BrowserCrashed),
            failed(ErrorCode::InternalError),
        ];
        for outcome in &kill {
            assert_eq!(
                close_mode(outcome, graceful),
                CloseMode::Kill,
                "{outcome:?}"
            );
        }
        let mut timed_out = failed(ErrorCode::Timeout);
        timed_out.state = RunState::TimedOut;
        assert_eq!(close_mode(&timed_out, graceful), CloseMode::Kill);
        for outcome in [
            RunOutcome::completed(),
            failed(ErrorCode::ActionFailed),
            failed(ErrorCode::GuardrailBlocked),
        ] {
            assert_eq!(
                close_mode(&outcome, graceful),
                CloseMode::Graceful(graceful),
                "{outcome:?}"
            );
        }
    }
}
