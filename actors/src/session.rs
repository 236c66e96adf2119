//! The Session actor: one per run. Spawns the run's Browser and Router, launches the browser,
//! runs the driver as a task, enforces the deadline, and at the end captures the final page and
//! closes its browser itself (`session/wind_down.rs`) before it hands the Finalizer the
//! artifacts. It stops itself once the Finalizer replies that the run is committed.
//!
//! No handler here awaits for long: the driver and the wind-down run in tasks of their own and
//! report back, and stops arrive through the run's cancellation token, never the mailbox.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tracing::Instrument;

use crate::browser::{BrowserActor, BrowserArgs, BrowserMsg};
use crate::config::Config;
use crate::download::{AllowedDownloads, DOWNLOADS_DIR, Download, DownloadPolicy};
use crate::driver::{self, DriverContext, DriverOutcome, RouterHandle};
use crate::event::EventKind;
use crate::finalizer::FinalizerMsg;
use crate::guard::{Block, Guard};
use crate::page_driver::RunEgress;
use crate::page_driver::{BrowserLauncher, LaunchSpec};
use crate::proxy::Armed;
use crate::record::{RunRecord, StopReason};
use crate::recording::RECORDING_DIR;
use crate::router::{RouterActor, RouterArgs, RouterMsg};
use crate::run::{ErrorCode, RunError, RunOutcome, RunState};

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
    pub(crate) llm: crate::agent::SharedLlm,
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
                on_start(myself, state).instrument(span).await
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

async fn on_start(
    myself: ActorRef<SessionMsg>,
    state: &mut SessionState,
) -> Result<(), ActorProcessingErr> {
    let record = state.args.record.clone();
    let config = &state.args.config;
    let chromium = match config.resolve_chromium() {
        Ok(path) => path,
        Err(e) => {
            let error = RunError::new(ErrorCode::SetupFailed, e.to_string());
            myself.cast(SessionMsg::DriverDone(DriverOutcome::Finished(
                RunOutcome::failed(error),
            )))?;
            return Ok(());
        }
    };
    record.log("info", &crate::guard::describe(&record.request.guardrails));
    let guard = Arc::new(Guard::new(&record.request.guardrails));
    let sink_record = record.clone();
    let egress = RunEgress(Armed {
        run_id: record.id,
        guard: guard.clone(),
        on_block: Arc::new(move |block: &Block, target: &str| {
            sink_record.note_request_block(block, target)
        }),
    });
    let spec = LaunchSpec {
        egress: Some(egress),
        run_id: record.id,
        chromium,
        profile_dir: crate::chromium::orphans::profile_dir(&config.profile_root, record.id),
        viewport: record.request.viewport,
        extra_args: config.chromium_args.clone(),
        launch_timeout: Duration::from_millis(config.timeouts.launch_ms),
        screenshot_quality: config.screenshot_quality,
        observe: config.observe.clone(),
        settle: config.settle.clone(),
        scrubber: record.scrubber.clone(),
        max_result_bytes: config.limits.max_result_bytes,
        hide_forms: matches!(
            record.request.guardrails.task_kind,
            crate::guard::TaskKind::Read | crate::guard::TaskKind::Navigate
        ),
        downloads: download_policy(&record, config),
    };
    let call_timeout = Duration::from_millis(config.timeouts.actor_call_ms);
    let (browser, _) = Actor::spawn_linked(
        None,
        BrowserActor,
        BrowserArgs {
            spec,
            launcher: state.args.launcher.clone(),
            pool: pool_for(&record, config, &state.args.pool),
            token: record.control.token().clone(),
            close_timeout: Duration::from_millis(config.timeouts.close_ms),
            seam: crate::browser::Seam::new(
                record.scrubber.clone(),
                config.limits.max_result_bytes,
            ),
        },
        myself.get_cell(),
    )
    .await?;
    let (router, _) = Actor::spawn_linked(
        None,
        RouterActor,
        RouterArgs {
            record: record.clone(),
            guard,
            browser: browser.clone(),
            call_timeout,
            max_action_timeout_ms: config.limits.max_action_timeout_ms,
        },
        myself.get_cell(),
    )
    .await?;
    state.browser = Some(browser.clone());
    state.router = Some(router.clone());
    state.tasks.push(spawn_deadline(&record));
    let ctx = DriverContext {
        router: RouterHandle::new(router, record.clone()),
        record: record.clone(),
        config: state.args.config.clone(),
        llm: state.args.llm.clone(),
    };
    let span = tracing::info_span!(
        parent: None,
        "run",
        run_id = %record.id,
        driver = record.request.driver.type_name()
    );
    state.tasks.push(tokio::spawn(
        async move {
            let outcome = launch_and_drive(browser, ctx).await;
            let _ = myself.cast(SessionMsg::DriverDone(outcome));
        }
        .instrument(span),
    ));
    Ok(())
}

/// The pool, when the run gets a context (its request's `isolation`, else `[browser]`'s).
fn pool_for(
    record: &RunRecord,
    config: &Config,
    pool: &Option<ActorRef<crate::pool::PoolMsg>>,
) -> Option<ActorRef<crate::pool::PoolMsg>> {
    let isolation = record.request.isolation.unwrap_or(config.browser.isolation);
    pool.clone()
        .filter(|_| isolation == crate::config::Isolation::Context)
}

/// The run's downloads: refused unless the request allows them, then kept in its recording;
/// every one becomes a `download` event (its page-derived text scrubbed).
fn download_policy(record: &Arc<RunRecord>, config: &Config) -> DownloadPolicy {
    let allowed = record
        .request
        .downloads
        .max_bytes(&config.limits)
        .map(|max_bytes| AllowedDownloads {
            dir: record.recorder.dir().join(DOWNLOADS_DIR),
            dir_in_run: format!("{RECORDING_DIR}/{DOWNLOADS_DIR}"),
            max_bytes,
        });
    let sink = record.clone();
    DownloadPolicy {
        allowed,
        on_report: Arc::new(move |mut download: Download| {
            download.url = sink.scrubber.scrub(&download.url);
            download.file_name = sink.scrubber.scrub(&download.file_name);
            download.reason = download.reason.map(|r| sink.scrubber.scrub(&r));
            sink.emit(EventKind::Download(download));
        }),
    }
}

/// Stops the run with `TimedOut` when its deadline passes (counted from leaving the queue).
fn spawn_deadline(record: &Arc<RunRecord>) -> tokio::task::JoinHandle<()> {
    let record = record.clone();
    let deadline = record
        .control
        .start_deadline(Duration::from_secs(record.limits.timeout_seconds));
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => record.control.stop(StopReason::TimedOut),
            _ = record.control.token().cancelled() => {}
        }
    })
}

async fn launch_and_drive(browser: ActorRef<BrowserMsg>, ctx: DriverContext) -> DriverOutcome {
    let record = ctx.record.clone();
    let token = record.control.token().clone();
    let launch = browser.call(BrowserMsg::Launch, None);
    let launched = tokio::select! {
        r = launch => r,
        _ = token.cancelled() => return DriverOutcome::Interrupted,
    };
    match launched {
        Ok(ractor::rpc::CallResult::Success(Ok(launch_ms))) => {
            record.emit(EventKind::BrowserReady { launch_ms });
        }
        Ok(ractor::rpc::CallResult::Success(Err(error))) if !token.is_cancelled() => {
            let error = RunError::new(error.code(), error.to_string());
            return DriverOutcome::Finished(RunOutcome::failed(error));
        }
        _ if token.is_cancelled() => return DriverOutcome::Interrupted,
        _ => {
            let error = RunError::new(
                ErrorCode::SetupFailed,
                "browser actor did not answer the launch",
            );
            return DriverOutcome::Finished(RunOutcome::failed(error));
        }
    }
    record.set_state(RunState::Running);
    driver::for_request(&record.request).run(ctx).await
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
    // Stop the deadline timer and anything still waiting on the token.
    record.control.stop(StopReason::Cancelled);
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
