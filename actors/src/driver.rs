//! Drivers decide a run's actions. Each runs as a task owned by its session, dispatches actions
//! through the run's Router, and reports how the run ended.
//!
//! The script driver lives here; the agent driver (`agent.rs`) and the playbook driver
//! (`playbook/run.rs`) implement the same trait. The session chooses a run's driver
//! (`session/start.rs`).

use std::sync::Arc;

use futures::future::BoxFuture;
use ractor::ActorRef;
use serde_json::json;

use crate::event::ActionFailure;
use crate::record::RunRecord;
use crate::request::Action;
use crate::router::{ActionResult, RouterMsg};
use crate::run::{ErrorCode, RunError, RunOutcome};

/// How a driver stopped.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DriverOutcome {
    /// The driver reached an outcome of its own.
    Finished(RunOutcome),
    /// The run was stopped from outside (cancel, deadline, shutdown); the session knows why.
    Interrupted,
}

/// What a driver can use: the run's router and record, the configuration, the model client,
/// and its Browser actor for cookies and storage (saved sessions, `capture`) — never for
/// actions, which go through the router.
#[derive(Clone)]
pub(crate) struct DriverContext {
    pub(crate) router: RouterHandle,
    pub(crate) browser: ActorRef<crate::browser::BrowserMsg>,
    pub(crate) record: Arc<RunRecord>,
    pub(crate) config: Arc<crate::config::Config>,
    pub(crate) llm: crate::llm::SharedLlm,
}

/// Decides and dispatches a run's actions until it reaches an outcome.
pub(crate) trait Driver: Send + 'static {
    /// Runs to completion; must return promptly once the run's token is cancelled.
    fn run(self: Box<Self>, ctx: DriverContext) -> BoxFuture<'static, DriverOutcome>;
}

/// Dispatches actions to a run's Router, raced against the run's cancellation.
#[derive(Clone)]
pub(crate) struct RouterHandle {
    router: ActorRef<RouterMsg>,
    record: Arc<RunRecord>,
}

impl RouterHandle {
    pub(crate) fn new(router: ActorRef<RouterMsg>, record: Arc<RunRecord>) -> Self {
        Self { router, record }
    }

    /// Runs one action; `None` when the run was stopped meanwhile.
    pub(crate) async fn dispatch(&self, action: Action) -> Option<ActionResult> {
        self.ask(
            |reply| RouterMsg::Dispatch { action, reply },
            |output| ActionResult { step: 0, output },
        )
        .await
    }

    /// A read-only look at the page (`wait_for`, `evaluate`) that is not a step of the run;
    /// `None` when the run was stopped meanwhile.
    pub(crate) async fn inspect(
        &self,
        action: Action,
    ) -> Option<Result<crate::page_driver::ActionOutput, ActionFailure>> {
        self.ask(
            |reply| RouterMsg::Inspect { action, reply },
            |failure| failure,
        )
        .await
    }

    /// One call to the router, raced against the run's stop; a router that is gone while the
    /// run is not stopped answers an internal error, shaped by `lost`.
    async fn ask<T: Send + 'static>(
        &self,
        make: impl FnOnce(ractor::RpcReplyPort<T>) -> RouterMsg,
        lost: impl FnOnce(Result<crate::page_driver::ActionOutput, ActionFailure>) -> T,
    ) -> Option<T> {
        let token = self.record.control.token();
        if token.is_cancelled() {
            return None;
        }
        let call = self.router.call(make, None);
        tokio::select! {
            reply = call => match reply {
                Ok(ractor::rpc::CallResult::Success(result)) => Some(result),
                _ if token.is_cancelled() => None,
                _ => Some(lost(Err(ActionFailure {
                    code: ErrorCode::InternalError,
                    message: "the run's router stopped unexpectedly".into(),
                }))),
            },
            _ = token.cancelled() => None,
        }
    }
}

/// Runs a fixed list of actions in order; the first failure fails the run.
pub(crate) struct ScriptDriver {
    /// Opened first, as a `goto`.
    pub(crate) start_url: Option<String>,
    pub(crate) steps: Vec<Action>,
}

impl Driver for ScriptDriver {
    fn run(self: Box<Self>, ctx: DriverContext) -> BoxFuture<'static, DriverOutcome> {
        Box::pin(async move {
            let opening = self.start_url.map(|url| Action::Goto { url });
            for action in opening.into_iter().chain(self.steps) {
                let name = action.name();
                let Some(result) = ctx.router.dispatch(action).await else {
                    return DriverOutcome::Interrupted;
                };
                if let Err(failure) = result.output {
                    if failure.code == ErrorCode::Cancelled {
                        return DriverOutcome::Interrupted;
                    }
                    return DriverOutcome::Finished(RunOutcome::failed(step_error(
                        result.step,
                        name,
                        failure,
                    )));
                }
            }
            DriverOutcome::Finished(RunOutcome::completed())
        })
    }
}

/// "step 3 (click): …", with the step and action in the details.
fn step_error(step: u32, action: &str, failure: ActionFailure) -> RunError {
    RunError::new(
        failure.code,
        format!("step {step} ({action}): {}", failure.message),
    )
    .with_details(json!({ "step": step, "action": action }))
}
