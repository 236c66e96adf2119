//! A spare context armed for one run: the run's [`PageDriver`] in a shared Chromium. Closing
//! it (or dropping it on any other path) disposes the context — its pages, cookies, storage,
//! cache and permissions go with it — stops its proxy and tells the pool the lease ended.

use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use futures::future::BoxFuture;

use super::{Spare, dispose_later};
use crate::chromium::downloads::{Downloads, Scope};
use crate::chromium::run_page::RunPage;
use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserError, Capture, CloseMode, CloseReport, LaunchSpec,
    PageDriver, RunEgress, StorageState,
};
use crate::proxy::GuardProxy;
use crate::request::Action;

/// Told once when a lease ends (closed, or dropped), with whether its page had crashed.
pub(crate) type Release = Box<dyn FnOnce(bool) + Send>;

/// Why a spare could not be armed: the run asks what this context cannot give (no other
/// spare would do better), or the spare itself is broken (another one may serve).
#[derive(Debug)]
pub(crate) enum ArmError {
    Run(String),
    Spare(String),
}

impl Spare {
    /// Hands the context to a run: its proxy takes the run's guardrails, its page the run's
    /// viewport, its downloads the run's policy.
    pub(crate) async fn arm(
        mut self,
        spec: &LaunchSpec,
        release: Release,
    ) -> Result<ContextDriver, ArmError> {
        if self.remote && spec.downloads.allowed.is_some() {
            return Err(ArmError::Run(
                "a run on a remote browser ([browser] connect) cannot keep downloads: they \
                 would land on the remote machine; leave `downloads` unset or use \
                 \"isolation\": \"process\""
                    .into(),
            ));
        }
        // From here on the driver owns the lease: any failure below drops it, which disposes
        // the context and tells the pool.
        let driver = ContextDriver {
            run_page: None,
            browser: self.browser.clone(),
            context: self.context.take(),
            staging: std::mem::take(&mut self.staging),
            proxy: self.proxy.take(),
            release: Some(release),
        };
        self.arm_driver(driver, spec).await.map_err(ArmError::Spare)
    }

    async fn arm_driver(
        &mut self,
        mut driver: ContextDriver,
        spec: &LaunchSpec,
    ) -> Result<ContextDriver, String> {
        let (Some(page), Some(context), Some(proxy)) = (
            self.page.take(),
            driver.context.clone(),
            driver.proxy.as_ref(),
        ) else {
            return Err("a spare context was handed out twice".into());
        };
        if let Some(RunEgress(armed)) = &spec.egress
            && !proxy.arm(armed.clone())
        {
            return Err("a pooled context's proxy already served a run".into());
        }
        if spec.viewport != self.viewport {
            let metrics = SetDeviceMetricsOverrideParams::new(
                i64::from(spec.viewport.width),
                i64::from(spec.viewport.height),
                1.0,
                false,
            );
            page.execute(metrics)
                .await
                .map_err(|e| format!("cannot set the run's viewport: {e}"))?;
        }
        let context_id = context.clone();
        let scope = Scope {
            context,
            page: page.clone(),
        };
        let downloads = Downloads::start(
            &self.browser,
            driver.staging.clone(),
            spec.downloads.clone(),
            Some(scope),
        )
        .await?;
        let run_page = RunPage::new(&self.browser, page, spec, downloads, self.dead.clone());
        driver.run_page = Some(run_page.await?.in_context(context_id));
        Ok(driver)
    }
}

/// A run's context in a pooled Chromium.
pub(crate) struct ContextDriver {
    run_page: Option<RunPage>,
    browser: Arc<Browser>,
    context: Option<BrowserContextId>,
    staging: std::path::PathBuf,
    proxy: Option<GuardProxy>,
    release: Option<Release>,
}

impl ContextDriver {
    fn page(&self) -> &RunPage {
        self.run_page.as_ref().expect("armed context has its page")
    }

    /// A failed DevTools call as the seam reports it: a crash when the page or browser is gone.
    fn call_error(&self, message: String) -> BrowserError {
        match self.run_page.as_ref().is_some_and(RunPage::is_crashed) {
            true => BrowserError::Crashed { detail: message },
            false => BrowserError::Cdp(message),
        }
    }

    async fn close_inner(mut self, mode: CloseMode) -> CloseReport {
        let grace = match mode {
            CloseMode::Kill => Duration::ZERO,
            CloseMode::Graceful(timeout) => timeout,
        };
        let crashed = self.run_page.as_ref().is_some_and(RunPage::is_crashed);
        if let Some(page) = &self.run_page {
            page.settings.downloads.close(grace).await;
        }
        let mut problem = None;
        if let Some(context) = self.context.take() {
            let bound = grace.max(Duration::from_secs(2));
            let dispose = self.browser.dispose_browser_context(context);
            match tokio::time::timeout(bound, dispose).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) if crashed => {}
                Ok(Err(e)) => {
                    let message = format!("disposing the browser context failed: {e}");
                    problem = Some(BrowserError::Cdp(message));
                }
                Err(_) => {
                    problem = Some(BrowserError::Timeout {
                        what: "close",
                        limit: bound,
                    });
                }
            }
        }
        let _ = tokio::fs::remove_dir_all(&self.staging).await;
        self.proxy.take();
        if let Some(release) = self.release.take() {
            release(crashed || problem.is_some());
        }
        CloseReport {
            graceful: problem.is_none() && !crashed,
            problem,
        }
    }
}

impl Drop for ContextDriver {
    fn drop(&mut self) {
        if let Some(page) = &self.run_page {
            page.settings.downloads.abort();
        }
        if let Some(context) = self.context.take() {
            dispose_later(self.browser.clone(), context, &self.staging);
        }
        if let Some(release) = self.release.take() {
            release(true);
        }
    }
}

impl PageDriver for ContextDriver {
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>> {
        Box::pin(self.page().execute(action, bounds))
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>> {
        Box::pin(async move {
            let result = self.page().blank().await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn cookies_for<'a>(
        &'a mut self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, BrowserError>> {
        Box::pin(async move {
            let result = self.page().cookies_for(url).await;
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
            let result = self.page().capture(screenshot, dom, masks).await;
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
            let result = self.page().storage_state(origins).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn restore_storage<'a>(
        &'a mut self,
        state: &'a StorageState,
    ) -> BoxFuture<'a, Result<(), BrowserError>> {
        Box::pin(async move {
            let result = self.page().restore_storage(state).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn read_storage<'a>(
        &'a mut self,
        session: bool,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrowserError>> {
        Box::pin(async move {
            let result = self.page().read_storage(session, key).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn pid(&self) -> Option<u32> {
        None
    }
}
