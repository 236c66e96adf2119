//! The Session actor: one per run. Spawns the run's Browser and Router, launches the browser,
//! runs the driver the request asks for as a task, enforces the deadline (`session/start.rs`),
//! and at the end captures the final page and closes its browser itself
//! (`session/wind_down.rs`) before it hands the Finalizer the artifacts. It stops itself once the Finalizer replies that the run is committed.
//!
//! No handler here awaits for long: the driver and the wind-down run in tasks of their own and
//! report back, and stops arrive through the run's cancellation token, never the mailbox.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tracing::Instrument;

use crate::browser::BrowserMsg;
use crate::config::Config;
use crate::driver::DriverOutcome;
use crate::finalizer::FinalizerMsg;
use crate::page_driver::BrowserLauncher;
use crate::record::{RunRecord, StopReason};
use crate::router::RouterMsg;

mod start;
mod wind_down;

/// Messages of the Session actor.
pub(crate) enum SessionMsg {
    /// Begin: spawn children, launch, drive.
    Start,
    /// The driver task ended.
    DriverDone(DriverOutcome),
}

/// Startup arguments of a Session.
pub(crate) struct SessionArgs {
    pub(crate) record: Arc<RunRecord>,
    pub(crate) config: Arc<Config>,
    pub(crate) launcher: Arc<dyn BrowserLauncher>,
    pub(crate) finalizer: ActorRef<FinalizerMsg>,
    pub(crate) llm: crate::llm::SharedLlm,
    /// The warm browser pool, when the engine has one.
    pub(crate) pool: Option<ActorRef<crate::pool::PoolMsg>>,
}

/// Session state.
pub(crate) struct SessionState {
    args: SessionArgs,
    browser: Option<ActorRef<BrowserMsg>>,
    router: Option<ActorRef<RouterMsg>>,
    /// Aborted on stop, so no driver, deadline or wind-down task outlives its session.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// One run.
pub(crate) struct SessionActor;

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SessionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.cast(SessionMsg::Start)?;
        Ok(SessionState {
            args,
            browser: None,
            router: None,
            tasks: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionMsg::Start => {
                let span = tracing::info_span!("setup", run_id = %state.args.record.id);
                start::on_start(myself, state).instrument(span).await
            }
            SessionMsg::DriverDone(outcome) => {
                on_driver_done(myself, state, outcome);
                Ok(())
            }
        }
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // ractor's default would stop the session with its child; instead the run is stopped
        // and finalized as an internal error, and the session lives on to report it.
        if let SupervisionEvent::ActorFailed(cell, error) = event {
            let which = if state
                .browser
                .as_ref()
                .is_some_and(|b| b.get_id() == cell.get_id())
            {
                "browser"
            } else {
                "router"
            };
            tracing::error!(run_id = %state.args.record.id, which, %error, "run actor failed");
            state.args.record.control.stop(StopReason::Internal(format!(
                "the run's {which} actor failed: {error}"
            )));
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for task in state.tasks.drain(..) {
            task.abort();
        }
        Ok(())
    }
}

/// Decides the run's outcome and starts the wind-down: capture, close, then the Finalizer.
fn on_driver_done(myself: ActorRef<SessionMsg>, state: &mut SessionState, outcome: DriverOutcome) {
    let record = &state.args.record;
    let outcome = match outcome {
        // A failed actor makes every later result suspect: report the internal error.
        _ if matches!(
            record.control.reason(),
            Some(StopReason::Internal(_) | StopReason::Stuck(_))
        ) =>
        {
            record.interrupted_outcome()
        }
        DriverOutcome::Finished(outcome) => outcome,
        DriverOutcome::Interrupted => record.interrupted_outcome(),
    };
    // Stop the deadline timer and anything still waiting on the token. A run stopped from
    // outside keeps the reason it was stopped for (the first reason wins).
    record.control.stop(StopReason::DriverDone);
    if !record.claim_finalization() {
        // Someone else finalizes this run; ending the session ends its browser (drop guard).
        myself.stop(Some("finalized elsewhere".into()));
        return;
    }
    let timeouts = &state.args.config.timeouts;
    let wind_down = wind_down::WindDown {
        record: record.clone(),
        outcome,
        browser: state.browser.clone(),
        finalizer: state.args.finalizer.clone(),
        bounds: wind_down::CloseBounds {
            graceful: Duration::from_millis(timeouts.close_ms),
            call: Duration::from_millis(timeouts.close_ms + timeouts.actor_call_ms),
        },
    };
    state.tasks.push(wind_down.spawn(myself));
}
