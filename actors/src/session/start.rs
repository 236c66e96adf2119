//! Starting a run: its browser's launch spec (egress through the run's guard, downloads,
//! isolation), the Browser and Router children, the deadline, and the driver the request asks
//! for — chosen here, where drivers are chosen — run as a task that launches the browser first
//! and reports back to the session with `SessionMsg::DriverDone`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tracing::Instrument;

use super::{SessionMsg, SessionState};
use crate::agent::AgentDriver;
use crate::auto::AutoDriver;
use crate::browser::{BrowserActor, BrowserArgs, BrowserMsg};
use crate::config::Config;
use crate::download::{AllowedDownloads, DOWNLOADS_DIR, Download, DownloadPolicy};
use crate::driver::{Driver, DriverContext, DriverOutcome, RouterHandle, ScriptDriver};
use crate::event::EventKind;
use crate::guard::{Block, Guard};
use crate::page_driver::{LaunchSpec, RunEgress};
use crate::playbook::run::PlaybookDriver;
use crate::pool::PoolMsg;
use crate::proxy::Armed;
use crate::record::{RunRecord, StopReason};
use crate::recording::RECORDING_DIR;
use crate::request::{DriverSpec, Isolation, RunRequest, TaskKind};
use crate::router::{RouterActor, RouterArgs, RouterMsg};
use crate::run::{ErrorCode, RunError, RunOutcome, RunState};
use crate::sessions::{self, SessionStore};

/// Spawns the run's children, starts its deadline and its driver task. A Chromium that cannot
/// be found ends the run with `SETUP_FAILED` before anything is spawned.
pub(super) async fn on_start(
    myself: ActorRef<SessionMsg>,
    state: &mut SessionState,
) -> Result<(), ActorProcessingErr> {
    let record = state.args.record.clone();
    let chromium = match state.args.config.resolve_chromium() {
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
    let spec = launch_spec(&record, &state.args.config, guard.clone(), chromium);
    let browser = spawn_browser(&myself, state, spec).await?;
    let router = spawn_router(&myself, state, guard, browser.clone()).await?;
    state.browser = Some(browser.clone());
    state.router = Some(router.clone());
    state.tasks.push(spawn_deadline(&record));
    let ctx = DriverContext {
        router: RouterHandle::new(router, record.clone()),
        browser: browser.clone(),
        record,
        config: state.args.config.clone(),
        llm: state.args.llm.clone(),
    };
    state.tasks.push(spawn_driver(myself, browser, ctx));
    Ok(())
}

/// The driver a request asks for.
fn driver_for(request: &RunRequest) -> Box<dyn Driver> {
    match &request.driver {
        DriverSpec::Script { steps } => Box::new(ScriptDriver {
            start_url: request.start_url.clone(),
            steps: steps.clone(),
        }),
        DriverSpec::Playbook(spec) => Box::new(PlaybookDriver {
            spec: spec.clone(),
            start_url: request.start_url.clone(),
        }),
        DriverSpec::Auto(spec) => Box::new(AutoDriver {
            spec: spec.clone(),
            start_url: request.start_url.clone(),
        }),
        DriverSpec::Agent(spec) => Box::new(AgentDriver {
            spec: spec.clone(),
            start_url: request.start_url.clone(),
            preamble: None,
            max_steps: None,
        }),
    }
}

/// How the run's browser is launched: its egress through the run's guard (requests the proxy
/// refuses are noted on the record), its page's size, bounds and caps, its downloads.
fn launch_spec(
    record: &Arc<RunRecord>,
    config: &Config,
    guard: Arc<Guard>,
    chromium: PathBuf,
) -> LaunchSpec {
    let sink_record = record.clone();
    let egress = RunEgress(Armed {
        run_id: record.id,
        guard,
        on_block: Arc::new(move |block: &Block, target: &str| {
            sink_record.note_request_block(block, target)
        }),
    });
    LaunchSpec {
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
            record.request.guardrails.kind(),
            TaskKind::Read | TaskKind::Navigate
        ),
        downloads: download_policy(record, config),
    }
}

/// The run's Browser actor, linked to the session.
async fn spawn_browser(
    myself: &ActorRef<SessionMsg>,
    state: &SessionState,
    spec: LaunchSpec,
) -> Result<ActorRef<BrowserMsg>, ActorProcessingErr> {
    let (record, config) = (&state.args.record, &state.args.config);
    let args = BrowserArgs {
        spec,
        launcher: state.args.launcher.clone(),
        pool: pool_for(record, config, &state.args.pool),
        token: record.control.token().clone(),
        close_timeout: Duration::from_millis(config.timeouts.close_ms),
        seam: crate::browser::Seam::new(record.scrubber.clone(), config.limits.max_result_bytes),
    };
    let (browser, _) = Actor::spawn_linked(None, BrowserActor, args, myself.get_cell()).await?;
    Ok(browser)
}

/// The run's Router actor, linked to the session.
async fn spawn_router(
    myself: &ActorRef<SessionMsg>,
    state: &SessionState,
    guard: Arc<Guard>,
    browser: ActorRef<BrowserMsg>,
) -> Result<ActorRef<RouterMsg>, ActorProcessingErr> {
    let config = &state.args.config;
    let args = RouterArgs {
        record: state.args.record.clone(),
        guard,
        browser,
        call_timeout: Duration::from_millis(config.timeouts.actor_call_ms),
        max_action_timeout_ms: config.limits.max_action_timeout_ms,
        max_result_bytes: config.limits.max_result_bytes,
        llm: state.args.llm.clone(),
        agent: config.agent.clone(),
        clicks: crate::safety::ClickValidator::new(
            config,
            state.args.llm.clone(),
            &state.args.record.request,
        ),
    };
    let (router, _) = Actor::spawn_linked(None, RouterActor, args, myself.get_cell()).await?;
    Ok(router)
}

/// The pool, when the run gets a context (its request's `isolation`, else `[browser]`'s).
fn pool_for(
    record: &RunRecord,
    config: &Config,
    pool: &Option<ActorRef<PoolMsg>>,
) -> Option<ActorRef<PoolMsg>> {
    let isolation = record.request.isolation.unwrap_or(config.browser.isolation);
    pool.clone().filter(|_| isolation == Isolation::Context)
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

/// The driver task, in the run's own span: launch, drive, report the outcome to the session.
fn spawn_driver(
    myself: ActorRef<SessionMsg>,
    browser: ActorRef<BrowserMsg>,
    ctx: DriverContext,
) -> tokio::task::JoinHandle<()> {
    let span = tracing::info_span!(
        parent: None,
        "run",
        run_id = %ctx.record.id,
        driver = ctx.record.request.driver.type_name()
    );
    tokio::spawn(
        async move {
            let outcome = launch_and_drive(browser, ctx).await;
            let _ = myself.cast(SessionMsg::DriverDone(outcome));
        }
        .instrument(span),
    )
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
    if let Some(outcome) = restore_session(&ctx).await {
        return outcome;
    }
    record.set_state(RunState::Running);
    let outcome = driver_for(&record.request).run(ctx.clone()).await;
    save_session(&ctx, outcome).await
}

/// Restores the request's `session.load` before the first action; `Some` ends the run with
/// `SETUP_FAILED` naming the session (admission checked it, but the file may have changed or
/// gone since, or another node admitted the run).
async fn restore_session(ctx: &DriverContext) -> Option<DriverOutcome> {
    let id = ctx.record.request.session.load.as_deref()?;
    let store = SessionStore::new(&ctx.config.sessions);
    match sessions::browser::restore(&store, id, &ctx.browser, &ctx.record.scrubber).await {
        Ok(_) => {
            ctx.record
                .log("info", &format!("restored saved session `{id}`"));
            None
        }
        Err(message) => Some(DriverOutcome::Finished(RunOutcome::failed(RunError::new(
            ErrorCode::SetupFailed,
            format!("session.load: {message}"),
        )))),
    }
}

/// Saves the run's session as `session.save` once it completed; a run that did not complete
/// keeps the saved session it had. A session that cannot be saved fails the run.
async fn save_session(ctx: &DriverContext, outcome: DriverOutcome) -> DriverOutcome {
    let Some(id) = ctx.record.request.session.save.as_deref() else {
        return outcome;
    };
    let completed =
        matches!(&outcome, DriverOutcome::Finished(o) if o.state == RunState::Completed);
    if !completed {
        ctx.record.log(
            "info",
            &format!("session `{id}` not saved: the run did not complete"),
        );
        return outcome;
    }
    let store = SessionStore::new(&ctx.config.sessions);
    match sessions::browser::save(&store, id, &ctx.browser, &ctx.record.scrubber).await {
        Ok(()) => {
            ctx.record.log("info", &format!("saved session `{id}`"));
            outcome
        }
        Err(message) => DriverOutcome::Finished(RunOutcome::failed(RunError::new(
            ErrorCode::ActionFailed,
            format!("session.save: {message}"),
        ))),
    }
}
