//! The real browser: a Chromium per run (`isolation = "process"`, [`ChromiumLauncher`]) or a
//! context in one of the pool's warm Chromiums (`pool.rs`), driven over CDP by chromiumoxide.
//! Every process is ours to end: see `process.rs`.

mod actions;
mod cdp;
mod downloads;
mod egress;
mod observe;
pub(crate) mod orphans;
pub(crate) mod pool;
mod process;
mod query;
mod run_page;
mod screenshot;
mod scripts;
mod settings;
mod settle;
mod storage;

use std::time::Instant;

use chromiumoxide::Page;
use futures::future::BoxFuture;

use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, PageDriver, RunEgress, StorageState,
};
use crate::proxy::GuardProxy;
use crate::request::Action;
use process::{Process, ProcessSpec};
use run_page::RunPage;

/// Launches a Chromium per run.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChromiumLauncher;

impl BrowserLauncher for ChromiumLauncher {
    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'static, Result<Box<dyn PageDriver>, BrowserError>> {
        Box::pin(async move {
            let session = ChromiumSession::launch(spec).await?;
            Ok(Box::new(session) as Box<dyn PageDriver>)
        })
    }

    fn egress(&self) -> &'static str {
        egress::EGRESS_MECHANISM
    }

    fn pooled(&self) -> bool {
        true
    }
}

pub(crate) use egress::split_operator_args;

/// A run's own Chromium, its page and its proxy.
pub(crate) struct ChromiumSession {
    /// Dropped first: the page's watcher stops before its browser goes.
    run_page: RunPage,
    /// `None` once closed; its drop guard kills the process group on every other path.
    process: Option<Process>,
    /// The run's filtering proxy; every request of this browser goes through it.
    _proxy: Option<GuardProxy>,
}

impl std::fmt::Debug for ChromiumSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromiumSession")
            .field("process", &self.process)
            .finish_non_exhaustive()
    }
}

/// Starts the run's proxy, armed with its guardrails.
async fn start_proxy(egress: &Option<RunEgress>) -> Result<Option<GuardProxy>, BrowserError> {
    match egress {
        None => Ok(None),
        Some(RunEgress(armed)) => GuardProxy::start(armed.clone())
            .await
            .map(Some)
            .map_err(|e| BrowserError::Launch {
                reason: format!("cannot start the run's proxy: {e}"),
            }),
    }
}

impl ChromiumSession {
    /// Starts the run's proxy and Chromium, and opens the page.
    pub(crate) async fn launch(spec: LaunchSpec) -> Result<Self, BrowserError> {
        let started = Instant::now();
        let proxy = start_proxy(&spec.egress).await?;
        let process = Process::start(ProcessSpec {
            chromium: &spec.chromium,
            profile_dir: &spec.profile_dir,
            viewport: spec.viewport,
            extra_args: &spec.extra_args,
            proxy: proxy.as_ref().map(GuardProxy::addr),
            launch_timeout: spec.launch_timeout,
        })
        .await?;
        let left = spec.launch_timeout.saturating_sub(started.elapsed());
        let run_page = tokio::time::timeout(left, open_page(&process, &spec))
            .await
            .map_err(|_| BrowserError::LaunchTimeout {
                limit: spec.launch_timeout,
            })?
            .map_err(|reason| BrowserError::Launch { reason })?;
        tracing::debug!(run_id = %spec.run_id, ms = started.elapsed().as_millis() as u64, "browser ready");
        Ok(Self {
            run_page,
            process: Some(process),
            _proxy: proxy,
        })
    }

    async fn close_inner(mut self, mode: CloseMode) -> CloseReport {
        // A save in progress finishes (graceful close only); unfinished downloads are reported.
        let grace = match mode {
            CloseMode::Kill => std::time::Duration::ZERO,
            CloseMode::Graceful(timeout) => timeout,
        };
        self.run_page.settings.downloads.close(grace).await;
        match self.process.take() {
            Some(process) => process.close(mode).await,
            None => CloseReport {
                graceful: false,
                problem: None,
            },
        }
    }
}

impl ChromiumSession {
    /// A failed DevTools call as the seam reports it: a crash when the browser is gone.
    fn call_error(&mut self, message: String) -> BrowserError {
        let dead = self.run_page.is_crashed() || self.process.as_mut().is_none_or(Process::is_dead);
        match dead {
            true => BrowserError::Crashed { detail: message },
            false => BrowserError::Cdp(message),
        }
    }
}

/// Denies (or routes) downloads before any page exists, then opens the run's page.
async fn open_page(process: &Process, spec: &LaunchSpec) -> Result<RunPage, String> {
    let staging = downloads::staging_dir(&spec.profile_dir);
    let downloads =
        downloads::Downloads::start(&process.browser, staging, spec.downloads.clone(), None)
            .await?;
    let page: Page = match process.browser.new_page("about:blank").await {
        Ok(page) => page,
        Err(e) => {
            downloads.abort();
            return Err(format!("cannot open a page: {e}"));
        }
    };
    RunPage::new(
        &process.browser,
        page,
        spec,
        downloads,
        process.dead().clone(),
    )
    .await
}

impl Drop for ChromiumSession {
    fn drop(&mut self) {
        if self.process.is_some() {
            self.run_page.settings.downloads.abort();
        }
    }
}

impl PageDriver for ChromiumSession {
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>> {
        Box::pin(async move {
            let result = self.run_page.execute(action, bounds).await;
            match result {
                Err(failure)
                    if failure.code != crate::run::ErrorCode::BrowserCrashed
                        && self.process.as_mut().is_some_and(Process::is_dead) =>
                {
                    Err(cdp::crashed(&failure.message))
                }
                other => other,
            }
        })
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>> {
        Box::pin(async move {
            let result = self.run_page.blank().await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn cookies_for<'a>(
        &'a mut self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, BrowserError>> {
        Box::pin(async move {
            let result = self.run_page.cookies_for(url).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn capture<'a>(
        &'a mut self,
        screenshot: bool,
        dom: bool,
        masks: &'a [String],
    ) -> BoxFuture<'a, Result<Capture, BrowserError>> {
        Box::pin(async move {
            let result = self.run_page.capture(screenshot, dom, masks).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn close(self: Box<Self>, mode: CloseMode) -> BoxFuture<'static, CloseReport> {
        Box::pin(self.close_inner(mode))
    }

    fn storage_state<'a>(
        &'a mut self,
        origins: &'a [String],
    ) -> BoxFuture<'a, Result<StorageState, BrowserError>> {
        Box::pin(async move {
            let result = self.run_page.storage_state(origins).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn restore_storage<'a>(
        &'a mut self,
        state: &'a StorageState,
    ) -> BoxFuture<'a, Result<(), BrowserError>> {
        Box::pin(async move {
            let result = self.run_page.restore_storage(state).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn read_storage<'a>(
        &'a mut self,
        session: bool,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrowserError>> {
        Box::pin(async move {
            let result = self.run_page.read_storage(session, key).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::pid)
    }
}
