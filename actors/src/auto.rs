//! The `auto` driver: runs the route admission chose for a directive (`admit/auto.rs`) — the
//! matched playbook, or the agent with the directive — and records it in the status. Under
//! `hybrid_auto`, a playbook that fails hands the run to the agent with the directive, on the
//! page where it stopped, unless the playbook's own recovery already gave the agent its turn
//! or the failure leaves the agent nothing to do (the run's step budget spent, the model
//! failing).

use futures::future::BoxFuture;

use crate::agent::AgentDriver;
use crate::driver::{Driver, DriverContext, DriverOutcome};
use crate::playbook::run::PlaybookDriver;
use crate::request::{AgentSpec, AutoSpec, Route};
use crate::run::{ErrorCode, RunError, RunOutcome, RunState};

/// Runs an `auto` request's route.
pub(crate) struct AutoDriver {
    pub(crate) spec: AutoSpec,
    /// The request's `start_url`.
    pub(crate) start_url: Option<String>,
}

impl Driver for AutoDriver {
    fn run(self: Box<Self>, ctx: DriverContext) -> BoxFuture<'static, DriverOutcome> {
        Box::pin(self.drive(ctx))
    }
}

impl AutoDriver {
    async fn drive(self, ctx: DriverContext) -> DriverOutcome {
        let Some(route) = self.spec.route else {
            let error = RunError::new(
                ErrorCode::InternalError,
                "the auto run was not routed at admission",
            );
            return DriverOutcome::Finished(RunOutcome::failed(error));
        };
        let info = route.info().clone();
        ctx.record.log(
            "info",
            &format!(
                "auto ({}): {} — {}",
                info.mode,
                info.playbook.as_deref().unwrap_or("agent"),
                info.reason
            ),
        );
        ctx.record.status().route = Some(info);
        match *route {
            Route::Agent { spec, .. } => agent(spec, self.start_url).run(ctx).await,
            Route::Playbook { spec, fallback, .. } => {
                let playbook = PlaybookDriver {
                    spec,
                    start_url: self.start_url,
                };
                let outcome = Box::new(playbook).run(ctx.clone()).await;
                match (outcome, fallback) {
                    (DriverOutcome::Finished(ended), Some(agent_spec)) => {
                        hand_over(ctx, ended, *agent_spec).await
                    }
                    (outcome, _) => outcome,
                }
            }
        }
    }
}

fn agent(spec: AgentSpec, start_url: Option<String>) -> Box<AgentDriver> {
    Box::new(AgentDriver {
        spec,
        start_url,
        preamble: None,
        max_steps: None,
    })
}

/// The playbook's outcome, or the agent's when the playbook failed in a way the agent can
/// take on.
async fn hand_over(ctx: DriverContext, ended: RunOutcome, spec: AgentSpec) -> DriverOutcome {
    let Some(error) = ended
        .error
        .as_ref()
        .filter(|_| ended.state == RunState::Failed)
    else {
        return DriverOutcome::Finished(ended);
    };
    let recovered = ctx.record.status().recovery.is_some();
    let hopeless = matches!(
        error.code,
        ErrorCode::MaxSteps
            | ErrorCode::LlmError
            | ErrorCode::Cancelled
            | ErrorCode::BrowserCrashed
    );
    if recovered || hopeless {
        return DriverOutcome::Finished(ended);
    }
    let why = format!("the playbook failed: {}", error.message);
    ctx.record.log(
        "warn",
        &format!("{why}; handing the directive to the agent"),
    );
    if let Some(route) = ctx.record.status().route.as_mut() {
        route.handed_off = Some(why);
    }
    metrics::counter!("pilothouse_auto_handoffs_total").increment(1);
    let url = ctx.record.status().last_url.clone().unwrap_or_default();
    let mut driver = agent(spec, None);
    driver.preamble = Some(format!(
        "A scripted playbook tried this task first and failed: {}. The browser is on {url}; \
         carry on from there.",
        error.message
    ));
    driver.run(ctx).await
}
