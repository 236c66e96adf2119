//! A run's page and what every action on it needs: the settings, and two alarms raced against
//! each action — the page's renderer crashed (`Target.targetCrashed`), or the whole browser's
//! DevTools connection ended — so a crash fails the run at once instead of at a timeout.
//! Shared by a run's own browser and a pooled browser context.

use std::sync::{Arc, Mutex, PoisonError};

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::page::ScriptIdentifier;
use chromiumoxide::cdp::browser_protocol::target::EventTargetCrashed;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::cdp::crashed;
use super::settings::Settings;
use super::storage::{self, StorageTarget};
use super::{actions, downloads::Downloads, screenshot};
use crate::event::ActionFailure;
use crate::page_driver::{ActionBounds, ActionOutput, Capture, LaunchSpec, StorageState};
use crate::request::Action;
use crate::run::ErrorCode;

/// The run's page, its settings and its crash alarms.
pub(super) struct RunPage {
    pub(super) page: Page,
    pub(super) settings: Settings,
    /// Cancelled when the page's renderer crashes.
    renderer_crashed: CancellationToken,
    /// Cancelled when the browser's DevTools connection ends.
    browser_gone: CancellationToken,
    watch: JoinHandle<()>,
    /// The page's browser, and its context there (`None`: a browser of its own), for cookies.
    browser: Arc<Browser>,
    context: Option<BrowserContextId>,
    /// localStorage seeding scripts of a restored session, by origin, until an action lands
    /// there.
    seeds: Mutex<Vec<(String, ScriptIdentifier)>>,
}

impl Drop for RunPage {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

impl RunPage {
    /// Watches `page` for a renderer crash; `browser_gone` is the browser's own alarm.
    pub(super) async fn new(
        browser: &Arc<Browser>,
        page: Page,
        spec: &LaunchSpec,
        downloads: Downloads,
        browser_gone: CancellationToken,
    ) -> Result<Self, String> {
        let mut crashes = browser
            .event_listener::<EventTargetCrashed>()
            .await
            .map_err(|e| format!("cannot watch the page for crashes: {e}"))?;
        let renderer_crashed = CancellationToken::new();
        let alarm = renderer_crashed.clone();
        let target = page.target_id().clone();
        let watch = tokio::spawn(async move {
            while let Some(event) = crashes.next().await {
                if event.target_id == target {
                    alarm.cancel();
                    return;
                }
            }
        });
        Ok(Self {
            page,
            settings: Settings::from_spec(spec, downloads),
            renderer_crashed,
            browser_gone,
            watch,
            browser: browser.clone(),
            context: None,
            seeds: Mutex::new(Vec::new()),
        })
    }

    /// The page lives in this browser context of a shared Chromium.
    pub(super) fn in_context(mut self, context: BrowserContextId) -> Self {
        self.context = Some(context);
        self
    }

    fn storage_target(&self) -> Result<StorageTarget<'_>, String> {
        if self.is_crashed() {
            return Err("the page crashed".into());
        }
        Ok(StorageTarget {
            browser: &self.browser,
            context: self.context.clone(),
            page: &self.page,
        })
    }

    /// The context's cookies and the localStorage of `origins`.
    pub(super) async fn storage_state(&self, origins: &[String]) -> Result<StorageState, String> {
        storage::export(self.storage_target()?, origins).await
    }

    /// Restores a saved session into the page's context.
    pub(super) async fn restore_storage(&self, state: &StorageState) -> Result<(), String> {
        let seeds = storage::restore(self.storage_target()?, state).await?;
        self.seeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(seeds);
        Ok(())
    }

    /// Removes the seeding scripts of the origin an action landed on: it is seeded.
    async fn seeded(&self, url: &str) {
        let Some(origin) = url::Url::parse(url)
            .ok()
            .map(|u| u.origin().ascii_serialization())
        else {
            return;
        };
        let done: Vec<ScriptIdentifier> = {
            let mut seeds = self.seeds.lock().unwrap_or_else(PoisonError::into_inner);
            let (done, left) = std::mem::take(&mut *seeds)
                .into_iter()
                .partition(|(o, _)| *o == origin);
            *seeds = left;
            done.into_iter().map(|(_, id)| id).collect()
        };
        for id in done {
            storage::unseed(&self.page, id).await;
        }
    }

    /// The current page's storage value of `key`.
    pub(super) async fn read_storage(
        &self,
        session: bool,
        key: &str,
    ) -> Result<Option<String>, String> {
        self.storage_target()?;
        storage::read(&self.page, session, key).await
    }

    /// Runs one action; a crash of the renderer or the browser ends it at once as
    /// `BROWSER_CRASHED`.
    pub(super) async fn execute(
        &self,
        action: &Action,
        bounds: ActionBounds,
    ) -> Result<ActionOutput, ActionFailure> {
        let result = self.execute_raced(action, bounds).await;
        if let Ok(ActionOutput { url: Some(url), .. }) = &result
            && !self
                .seeds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        {
            self.seeded(url).await;
        }
        result
    }

    async fn execute_raced(
        &self,
        action: &Action,
        bounds: ActionBounds,
    ) -> Result<ActionOutput, ActionFailure> {
        tokio::select! {
            result = actions::execute(&self.page, action, bounds, &self.settings) => {
                match result {
                    Err(failure) if self.browser_gone.is_cancelled() => {
                        Err(crashed(&failure.message))
                    }
                    Err(_) if self.renderer_crashed.is_cancelled() => Err(renderer_crashed()),
                    other => other,
                }
            }
            _ = self.renderer_crashed.cancelled() => Err(renderer_crashed()),
            _ = self.browser_gone.cancelled() => {
                Err(crashed("the browser's DevTools connection closed"))
            }
        }
    }

    /// True once the page cannot serve the run any more.
    pub(super) fn is_crashed(&self) -> bool {
        self.renderer_crashed.is_cancelled() || self.browser_gone.is_cancelled()
    }

    /// The cookies of the page's browser context that apply to `url` (`Network.getCookies`).
    pub(super) async fn cookies_for(&self, url: &str) -> Result<Vec<(String, String)>, String> {
        use chromiumoxide::cdp::browser_protocol::network::GetCookiesParams;
        if self.is_crashed() {
            return Err("the page crashed".into());
        }
        let params = GetCookiesParams::builder()
            .urls(vec![url.to_owned()])
            .build();
        let cookies = self
            .page
            .execute(params)
            .await
            .map_err(|e| format!("cannot read the cookies for {url}: {e}"))?;
        Ok(cookies
            .result
            .cookies
            .into_iter()
            .map(|c| (c.name, c.value))
            .collect())
    }

    pub(super) async fn blank(&self) -> Result<(), String> {
        actions::blank(&self.page).await
    }

    pub(super) async fn capture(
        &self,
        screenshot: bool,
        dom: bool,
        masks: &[String],
    ) -> Result<Capture, String> {
        if self.is_crashed() {
            return Err("the page crashed".into());
        }
        screenshot::capture(&self.page, &self.settings, screenshot, dom, masks).await
    }
}

fn renderer_crashed() -> ActionFailure {
    ActionFailure {
        code: ErrorCode::BrowserCrashed,
        message: "the page's renderer process crashed".into(),
    }
}
