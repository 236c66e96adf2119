//! The Browser actor: owns one run's browser and page; every CDP call of the run goes through it.
//!
//! Every reply passes the seam (`browser/seam.rs`): page-derived text leaves this actor
//! scrubbed of credentials and cut to `[limits] max_result_bytes`, and nowhere else needs to.
//!
//! Each handler is bounded in time and raced against the run's cancellation token, so a cancel
//! never waits behind a long `wait_for`. The page driver kills its process group when dropped,
//! which covers the paths where ractor skips `post_stop` (kill, panic).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, PageDriver, StorageState,
};
use crate::request::Action;
use crate::run::ErrorCode;

mod seam;

pub(crate) use seam::Seam;

/// Messages of the Browser actor.
pub(crate) enum BrowserMsg {
    /// Launch the browser; replies with the launch time in ms.
    Launch(RpcReplyPort<Result<u64, BrowserError>>),
    /// Run one action on the page.
    Execute {
        action: Action,
        bounds: ActionBounds,
        reply: RpcReplyPort<Result<ActionOutput, ActionFailure>>,
    },
    /// Capture the page for the recording (a viewport JPEG, the DOM).
    Capture {
        screenshot: bool,
        dom: bool,
        /// Selectors whose text is masked in the screenshot.
        masks: Vec<String>,
        reply: RpcReplyPort<Result<Capture, BrowserError>>,
    },
    /// Leave the page on about:blank.
    Blank(RpcReplyPort<Result<(), BrowserError>>),
    /// The cookies the page's browser context holds for `url` (name, value), for an
    /// `api_request`. They go to that request only: not through the seam, never evented.
    Cookies {
        url: String,
        reply: RpcReplyPort<Result<Vec<(String, String)>, BrowserError>>,
    },
    /// Cookies and storage: read them out, restore a saved session, read one storage key. The
    /// values are secrets bound for the session store or secret parameters, never for events,
    /// so these replies do not pass the seam's scrub (their errors do).
    Storage(StorageOp),
    /// End the browser and wait for its processes to exit.
    Close(CloseMode, RpcReplyPort<CloseReport>),
}

/// A cookies-and-storage call (see [`BrowserMsg::Storage`]).
pub(crate) enum StorageOp {
    /// The context's cookies and the localStorage of every origin the run visited.
    Export(RpcReplyPort<Result<StorageState, BrowserError>>),
    /// Restore a saved session (its origins count as visited).
    Restore(Box<StorageState>, RpcReplyPort<Result<(), BrowserError>>),
    /// The current page's `localStorage` (or `sessionStorage`, `session: true`) value of `key`.
    Read {
        session: bool,
        key: String,
        reply: RpcReplyPort<Result<Option<String>, BrowserError>>,
    },
}

/// Startup arguments of the Browser actor.
pub(crate) struct BrowserArgs {
    pub(crate) spec: LaunchSpec,
    pub(crate) launcher: Arc<dyn BrowserLauncher>,
    /// The warm pool, for a run with context isolation; `None`: the launcher starts a browser.
    pub(crate) pool: Option<ActorRef<crate::pool::PoolMsg>>,
    pub(crate) token: CancellationToken,
    pub(crate) close_timeout: Duration,
    /// Scrubs and cuts every reply.
    pub(crate) seam: Seam,
}

/// Actor state: the launched page, once there is one.
pub(crate) struct BrowserState {
    args: BrowserArgs,
    page: Option<Box<dyn PageDriver>>,
    /// Origins the page has been on (and those a restored session brought), whose
    /// localStorage a saved session keeps.
    origins: BTreeSet<String>,
}

/// One run's browser.
pub(crate) struct BrowserActor;

impl Actor for BrowserActor {
    type Msg = BrowserMsg;
    type State = BrowserState;
    type Arguments = BrowserArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: BrowserArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BrowserState {
            args,
            page: None,
            origins: BTreeSet::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BrowserMsg::Launch(reply) => {
                let span = tracing::info_span!("browser_launch", run_id = %state.args.spec.run_id);
                let result = on_launch(state).instrument(span).await;
                let _ = reply.send(result.map_err(|e| state.args.seam.error(e)));
            }
            BrowserMsg::Execute {
                action,
                bounds,
                reply,
            } => {
                let result = on_execute(state, &action, bounds).await;
                note_origin(state, &result);
                let _ = reply.send(state.args.seam.result(result));
            }
            BrowserMsg::Capture {
                screenshot,
                dom,
                masks,
                reply,
            } => {
                let result = match state.page.as_mut() {
                    Some(page) => {
                        let capture = page.capture(screenshot, dom, &masks);
                        bounded("capture", state.args.close_timeout, capture).await
                    }
                    None => Err(BrowserError::NotRunning),
                };
                let _ = reply.send(state.args.seam.capture(result));
            }
            BrowserMsg::Blank(reply) => {
                let result = match state.page.as_mut() {
                    Some(page) => bounded("blank", state.args.close_timeout, page.blank()).await,
                    None => Ok(()),
                };
                let _ = reply.send(result.map_err(|e| state.args.seam.error(e)));
            }
            BrowserMsg::Cookies { url, reply } => {
                let _ = reply.send(on_cookies(state, &url).await);
            }
            BrowserMsg::Storage(op) => on_storage(state, op).await,
            BrowserMsg::Close(mode, reply) => {
                let _ = reply.send(on_close(state, mode).await);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Normally the session's wind-down closed the browser already; this covers a plain stop.
        let mode = CloseMode::Graceful(state.args.close_timeout);
        on_close(state, mode).await;
        Ok(())
    }
}

async fn on_launch(state: &mut BrowserState) -> Result<u64, BrowserError> {
    if state.page.is_some() {
        return Err(BrowserError::Launch {
            reason: "the browser is already launched".into(),
        });
    }
    let started = Instant::now();
    let spec = state.args.spec.clone();
    let launch = match &state.args.pool {
        Some(pool) => Box::pin(crate::pool::lease(pool.clone(), spec)),
        None => state.args.launcher.launch(spec),
    };
    let page = tokio::select! {
        page = launch => page?,
        _ = state.args.token.cancelled() => return Err(BrowserError::Interrupted { what: "browser launch" }),
    };
    metrics::counter!("pilothouse_browser_launches_total").increment(1);
    state.page = Some(page);
    Ok(started.elapsed().as_millis() as u64)
}

async fn on_execute(
    state: &mut BrowserState,
    action: &Action,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    let Some(page) = state.page.as_mut() else {
        let gone = BrowserError::NotRunning;
        return Err(ActionFailure {
            code: gone.code(),
            message: gone.to_string(),
        });
    };
    // The outer bound: the action's effective timeout plus a navigation for actions that
    // settle, never past the run's deadline (see `ActionBounds::outer`).
    let limit = bounds.outer();
    let result = tokio::select! {
        r = tokio::time::timeout(limit, page.execute(action, bounds)) => r.unwrap_or_else(|_| Err(ActionFailure {
            code: ErrorCode::ActionFailed,
            message: format!("{} timed out after {} ms", action.name(), limit.as_millis()),
        })),
        _ = state.args.token.cancelled() => Err(ActionFailure {
            code: ErrorCode::Cancelled,
            message: format!("{} interrupted: the run was stopped", action.name()),
        }),
    };
    if matches!(&result, Err(f) if f.code == ErrorCode::BrowserCrashed) {
        metrics::counter!("pilothouse_browser_crashes_total").increment(1);
    }
    result
}

/// Cookies and storage, bounded like a capture; errors pass the seam.
async fn on_storage(state: &mut BrowserState, op: StorageOp) {
    let limit = state.args.close_timeout;
    let seam = state.args.seam.clone();
    let Some(page) = state.page.as_mut() else {
        let gone = BrowserError::NotRunning;
        match op {
            StorageOp::Export(reply) => drop(reply.send(Err(gone))),
            StorageOp::Restore(_, reply) => drop(reply.send(Err(gone))),
            StorageOp::Read { reply, .. } => drop(reply.send(Err(gone))),
        }
        return;
    };
    match op {
        StorageOp::Export(reply) => {
            let origins: Vec<String> = state.origins.iter().cloned().collect();
            let result = bounded(
                "reading cookies and storage",
                limit,
                page.storage_state(&origins),
            )
            .await;
            let _ = reply.send(result.map_err(|e| seam.error(e)));
        }
        StorageOp::Restore(saved, reply) => {
            let result = bounded("restoring a session", limit, page.restore_storage(&saved)).await;
            state
                .origins
                .extend(saved.origins.iter().map(|o| o.origin.clone()));
            let _ = reply.send(result.map_err(|e| seam.error(e)));
        }
        StorageOp::Read {
            session,
            key,
            reply,
        } => {
            let result = bounded("reading storage", limit, page.read_storage(session, &key)).await;
            let _ = reply.send(result.map_err(|e| seam.error(e)));
        }
    }
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

async fn on_close(state: &mut BrowserState, mode: CloseMode) -> CloseReport {
    match state.page.take() {
        Some(page) => page.close(mode).await,
        None => CloseReport {
            graceful: true,
            problem: None,
        },
    }
}

async fn bounded<T>(
    what: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, BrowserError>>,
) -> Result<T, BrowserError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or(Err(BrowserError::Timeout { what, limit }))
}

/// Keeps the origin an action landed on, for a session save.
fn note_origin(
    state: &mut BrowserState,
    result: &Result<crate::page_driver::ActionOutput, crate::event::ActionFailure>,
) {
    let landed = result.as_ref().ok().and_then(|o| o.url.as_deref());
    if let Some(origin) = landed.and_then(origin_of) {
        state.origins.insert(origin);
    }
}

/// The cookies the page's context holds for `url`, for an `api_request`.
async fn on_cookies(
    state: &mut BrowserState,
    url: &str,
) -> Result<Vec<(String, String)>, BrowserError> {
    let result = match state.page.as_mut() {
        Some(page) => {
            let read = page.cookies_for(url);
            bounded("cookies", state.args.close_timeout, read).await
        }
        None => Err(BrowserError::NotRunning),
    };
    result.map_err(|e| state.args.seam.error(e))
}
