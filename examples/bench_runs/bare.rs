//! The floor: the workload through bare chromiumoxide, with one shared browser and a fresh
//! browser context per run (system a), or a browser process per run (system b). No guardrails,
//! no proxy, no events: what any Rust program driving CDP directly pays on this machine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chromiumoxide::cdp::browser_protocol::page::{CaptureScreenshotFormat, EventLoadEventFired};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures::StreamExt;

use crate::site::{GREETING, SCREENSHOT_QUALITY};
use crate::{CHROMIUM, RunSample, ms_since};

/// How long a navigating click may take to fire `load` before the run fails.
const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closed browser may take to exit before it is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits, in the page, until `#out` is attached: one CDP round trip that resolves on the DOM
/// mutation itself, the way a careful CDP program waits (no polling interval to pay).
const WAIT_FOR_OUT: &str = r#"new Promise(resolve => {
  if (document.querySelector('#out')) { resolve(true); return; }
  new MutationObserver((_, observer) => {
    if (document.querySelector('#out')) { observer.disconnect(); resolve(true); }
  }).observe(document, { childList: true, subtree: true });
})"#;

/// Chooses option `b` of `#pick` as a user would, firing `input` and `change`.
const SELECT_B: &str = r#"(() => {
  const select = document.querySelector('#pick');
  select.value = 'b';
  select.dispatchEvent(new Event('input', { bubbles: true }));
  select.dispatchEvent(new Event('change', { bubbles: true }));
  return select.value;
})()"#;

/// A launched Chromium with its CDP handler polled by a task of its own.
pub(crate) struct BareBrowser {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
}

impl BareBrowser {
    /// Launches Chromium headless with its profile in `profile`, at Pilothouse's viewport.
    pub(crate) async fn launch(profile: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(profile)?;
        let config = BrowserConfig::builder()
            .chrome_executable(CHROMIUM)
            .new_headless_mode()
            .no_sandbox()
            .arg("disable-gpu")
            .arg("no-first-run")
            .arg("no-startup-window")
            .viewport(Viewport {
                width: 1280,
                height: 720,
                ..Viewport::default()
            })
            .user_data_dir(profile)
            .build()
            .map_err(anyhow::Error::msg)?;
        let (browser, mut handler) = Browser::launch(config).await?;
        // The handler must be polled for any call to complete; stop at the first connection error.
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if event.is_err() {
                    break;
                }
            }
        });
        Ok(Self { browser, handler })
    }

    /// Closes the browser and waits for its exit, killing it if it lingers.
    pub(crate) async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.browser.wait()).await;
        if self.browser.try_wait().ok().flatten().is_none() {
            let _ = self.browser.kill().await;
        }
        self.handler.abort();
    }

    /// A new page in the default context, opened on `url`.
    pub(crate) async fn new_page(&self, url: &str) -> anyhow::Result<Page> {
        Ok(self.browser.new_page(url).await?)
    }
}

/// System (a): one run in a fresh browser context of a shared browser; the context is disposed
/// at the end, inside the run's time.
pub(crate) async fn run_in_context(browser: &BareBrowser, base: &str) -> anyhow::Result<RunSample> {
    let started = Instant::now();
    let context = browser
        .browser
        .create_browser_context(CreateBrowserContextParams::default())
        .await?;
    let page = browser
        .browser
        .new_page(
            CreateTargetParams::builder()
                .url("about:blank")
                .browser_context_id(context.clone())
                .build()
                .map_err(anyhow::Error::msg)?,
        )
        .await?;
    let first_action_ms = ms_since(started);
    let steps = workload(&page, base).await;
    let _ = page.close().await;
    browser.browser.dispose_browser_context(context).await?;
    Ok(RunSample {
        wall_ms: ms_since(started),
        first_action_ms,
        steps: steps?,
        lease_ms: None,
        admit_ms: None,
    })
}

/// System (b): one run in a browser process of its own, launched and closed (and its profile
/// removed) inside the run's time, as Pilothouse does today.
pub(crate) async fn run_in_process(profile: PathBuf, base: &str) -> anyhow::Result<RunSample> {
    let started = Instant::now();
    let browser = BareBrowser::launch(&profile).await?;
    let measured = async {
        let page = browser.browser.new_page("about:blank").await?;
        let first_action_ms = ms_since(started);
        let steps = workload(&page, base).await?;
        anyhow::Ok((first_action_ms, steps))
    }
    .await;
    browser.close().await;
    let _ = tokio::fs::remove_dir_all(&profile).await;
    let (first_action_ms, steps) = measured?;
    Ok(RunSample {
        wall_ms: ms_since(started),
        first_action_ms,
        steps,
        lease_ms: None,
        admit_ms: None,
    })
}

/// The ten steps on `page`; returns each step's duration in ms.
async fn workload(page: &Page, base: &str) -> anyhow::Result<Vec<f64>> {
    let mut laps = Laps {
        steps: Vec::with_capacity(10),
        clock: Instant::now(),
    };
    choose_navigate_and_fill(page, base, &mut laps).await?;
    wait_read_and_leave(page, base, &mut laps).await?;
    Ok(laps.steps)
}

/// Steps 1–5: goto, select, the click that navigates, type, and the click that starts the
/// delayed greeting.
async fn choose_navigate_and_fill(page: &Page, base: &str, laps: &mut Laps) -> anyhow::Result<()> {
    page.goto(format!("{base}/")).await?;
    laps.lap();

    let chosen: String = page.evaluate(SELECT_B).await?.into_value()?;
    ensure!(chosen == "b", "select: #pick holds `{chosen}`, not `b`");
    laps.lap();

    let mut loads = page.event_listener::<EventLoadEventFired>().await?;
    page.find_element("#next").await?.click().await?;
    tokio::time::timeout(NAVIGATION_TIMEOUT, loads.next())
        .await
        .context("click on #next: no load event within 10 s")?;
    laps.lap();

    page.find_element("#name")
        .await?
        .click()
        .await?
        .type_str("Ada")
        .await?;
    laps.lap();

    page.find_element("#go").await?.click().await?;
    laps.lap();
    Ok(())
}

/// Steps 6–10: wait for the greeting, extract it, evaluate, screenshot, and goto back.
async fn wait_read_and_leave(page: &Page, base: &str, laps: &mut Laps) -> anyhow::Result<()> {
    page.evaluate_expression(
        EvaluateParams::builder()
            .expression(WAIT_FOR_OUT)
            .await_promise(true)
            .build()
            .map_err(anyhow::Error::msg)?,
    )
    .await?;
    laps.lap();

    let greeting = page.find_element("#out").await?.inner_text().await?;
    ensure!(
        greeting.as_deref() == Some(GREETING),
        "extract: #out reads {greeting:?}, not {GREETING:?}"
    );
    laps.lap();

    let _title: String = page.evaluate("document.title").await?.into_value()?;
    laps.lap();

    let image = page
        .screenshot(
            ScreenshotParams::builder()
                .format(CaptureScreenshotFormat::Jpeg)
                .quality(SCREENSHOT_QUALITY)
                .build(),
        )
        .await?;
    ensure!(!image.is_empty(), "screenshot: empty image");
    laps.lap();

    page.goto(format!("{base}/")).await?;
    laps.lap();
    Ok(())
}

impl Laps {
    /// Records the time since the last lap (or the start) as the next step's duration.
    fn lap(&mut self) {
        self.steps.push(ms_since(self.clock));
        self.clock = Instant::now();
    }
}

/// Each step's duration so far, and when the current step began.
struct Laps {
    steps: Vec<f64>,
    clock: Instant,
}
