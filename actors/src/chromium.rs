//! The real browser: launches Chromium in its own process group, connects chromiumoxide to its
//! DevTools socket, and guarantees the whole process tree is gone on every path.
//!
//! We spawn Chromium ourselves instead of `Browser::launch` so that we own the child and its
//! process group: a graceful close waits for the exit, and every other path (timeout, crash,
//! panic, drop) kills the group. Helpers (zygote, renderers, GPU) share the group, so none leak.

mod actions;
mod downloads;
mod egress;
mod observe;
pub(crate) mod orphans;
mod screenshot;
mod scripts;
mod settle;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::browser::CloseParams;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::handler::viewport::Viewport as CdpViewport;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;
use futures::future::BoxFuture;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::event::ActionFailure;
use crate::page_driver::{
    ActionBounds, ActionOutput, BrowserError, BrowserLauncher, Capture, CloseMode, CloseReport,
    LaunchSpec, PageDriver,
};
use crate::request::Action;

/// Headless switches, after Playwright's `chromiumSwitches`: no first-run UI, no background
/// networking (the machine has no internet, and it only adds noise), no extra startup tab.
const BASE_SWITCHES: &[&str] = &[
    "headless=new",
    "disable-gpu",
    "no-first-run",
    "no-default-browser-check",
    "no-startup-window",
    "disable-background-networking",
    "disable-background-timer-throttling",
    "disable-backgrounding-occluded-windows",
    "disable-renderer-backgrounding",
    "disable-component-update",
    "disable-default-apps",
    "disable-extensions",
    "disable-sync",
    "disable-breakpad",
    "disable-dev-shm-usage",
    "disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AcceptCHFrame,AutoExpandDetailsElement,CertificateTransparencyComponentUpdater,AvoidUnnecessaryBeforeUnloadCheckSync,LensOverlay,PaintHolding,NetworkTimeServiceQuerying,OptimizationGuideModelDownloading,OptimizationHintsFetching,InterestFeedContentSuggestions,CalculateNativeWinOcclusion,MediaEngagementBypassAutoplayPolicies",
    "no-pings",
    "safebrowsing-disable-auto-update",
    "disable-hang-monitor",
    "disable-ipc-flooding-protection",
    "disable-popup-blocking",
    "disable-prompt-on-repost",
    "disable-client-side-phishing-detection",
    "disable-domain-reliability",
    "metrics-recording-only",
    "password-store=basic",
    "use-mock-keychain",
    "mute-audio",
    "hide-scrollbars",
    "force-color-profile=srgb",
    "disable-quic",
    "remote-debugging-port=0",
];

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
}

pub(crate) use egress::{SERVICES_SINK_HOST, split_operator_args};

/// A running Chromium, its CDP connection and the run's page.
pub(crate) struct ChromiumSession {
    child: Child,
    pgid: Pid,
    /// Shared with the download watcher, which cancels downloads past their cap.
    browser: Arc<Browser>,
    page: Page,
    handler: JoinHandle<()>,
    profile_dir: PathBuf,
    settings: actions::Settings,
    /// Set once the process group is known to be gone; the drop guard then does nothing.
    reaped: bool,
}

impl std::fmt::Debug for ChromiumSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChromiumSession")
            .field("pgid", &self.pgid)
            .field("profile_dir", &self.profile_dir)
            .finish()
    }
}

/// The launched process before its CDP connection exists; killed on drop so a failed or
/// abandoned launch never leaves Chromium behind.
struct Spawned {
    child: Option<Child>,
    pgid: Pid,
    profile_dir: PathBuf,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.child.is_some() {
            kill_group(self.pgid);
            remove_profile(&self.profile_dir);
        }
    }
}

impl ChromiumSession {
    /// Spawns Chromium, waits for its DevTools URL, connects, and opens the page.
    pub(crate) async fn launch(spec: LaunchSpec) -> Result<Self, BrowserError> {
        let started = Instant::now();
        let failed = |reason: String| BrowserError::Launch { reason };
        std::fs::create_dir_all(&spec.profile_dir).map_err(|e| {
            failed(format!(
                "cannot create profile dir {}: {e}",
                spec.profile_dir.display()
            ))
        })?;
        let staging = downloads::staging_dir(&spec.profile_dir);
        egress::write_preferences(&spec.profile_dir, &staging)
            .await
            .map_err(|e| failed(format!("cannot write the profile's preferences: {e}")))?;
        let mut spawned = spawn_process(&spec).map_err(failed)?;
        let work = async {
            let child = spawned
                .child
                .as_mut()
                .expect("child present until handed over");
            let ws_url = read_devtools_url(child).await?;
            let config = HandlerConfig {
                viewport: Some(CdpViewport {
                    width: spec.viewport.width,
                    height: spec.viewport.height,
                    ..CdpViewport::default()
                }),
                request_timeout: spec.launch_timeout,
                ..HandlerConfig::default()
            };
            let (browser, mut handler) = Browser::connect_with_config(ws_url, config)
                .await
                .map_err(|e| format!("cannot connect to Chromium DevTools: {e}"))?;
            let browser = Arc::new(browser);
            // The handler must be polled for any CDP call to complete; it ends at the first
            // connection error so it can never spin on a dead socket.
            let handler = tokio::spawn(async move {
                while let Some(event) = handler.next().await {
                    if let Err(error) = event {
                        tracing::debug!(%error, "CDP handler stopped");
                        break;
                    }
                }
            });
            // Downloads are denied (or routed into the run) before any page exists.
            let downloads = match downloads::Downloads::start(
                &browser,
                &spec.profile_dir,
                spec.downloads.clone(),
            )
            .await
            {
                Ok(downloads) => downloads,
                Err(e) => {
                    handler.abort();
                    return Err(e);
                }
            };
            let page = match browser.new_page("about:blank").await {
                Ok(page) => page,
                Err(e) => {
                    downloads.abort();
                    handler.abort();
                    return Err(format!("cannot open a page: {e}"));
                }
            };
            Ok::<_, String>((browser, handler, page, downloads))
        };
        let (browser, handler, page, downloads) = tokio::time::timeout(spec.launch_timeout, work)
            .await
            .map_err(|_| BrowserError::LaunchTimeout {
                limit: spec.launch_timeout,
            })?
            .map_err(failed)?;
        let child = spawned.child.take().expect("child present");
        tracing::debug!(run_id = %spec.run_id, ms = started.elapsed().as_millis() as u64, "browser ready");
        Ok(Self {
            child,
            pgid: spawned.pgid,
            browser,
            page,
            handler,
            profile_dir: std::mem::take(&mut spawned.profile_dir),
            settings: actions::Settings {
                hide_forms: spec.hide_forms,
                screenshot_quality: spec.screenshot_quality,
                observe: spec.observe.clone(),
                settle: spec.settle.clone(),
                scrubber: spec.scrubber.clone(),
                max_result_bytes: spec.max_result_bytes,
                downloads,
            },
            reaped: false,
        })
    }

    async fn close_inner(mut self, mode: CloseMode) -> CloseReport {
        let mut problem = None;
        // A save in progress finishes (graceful close only); unfinished downloads are reported.
        let grace = match mode {
            CloseMode::Kill => Duration::ZERO,
            CloseMode::Graceful(timeout) => timeout,
        };
        self.settings.downloads.close(grace).await;
        let graceful = match mode {
            CloseMode::Kill => false,
            CloseMode::Graceful(timeout) => {
                let exited = tokio::time::timeout(timeout, async {
                    // Browser.close asks Chromium to exit; the socket usually drops first.
                    let _ = self.browser.execute(CloseParams::default()).await;
                    self.child.wait().await
                })
                .await
                .is_ok_and(|status| status.is_ok());
                if !exited {
                    problem = Some(BrowserError::ExitTimeout { limit: timeout });
                }
                exited
            }
        };
        // Kill stragglers (or everything, when the close failed) and reap the main process.
        kill_group(self.pgid);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        self.handler.abort();
        self.reaped = true;
        // The processes are gone; removing the profile is housekeeping that can take a while
        // on a busy disk, so it does not hold up the run's commit.
        let dir = std::mem::take(&mut self.profile_dir);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = remove_profile_checked(&dir) {
                tracing::warn!("{e}");
            }
        });
        CloseReport { graceful, problem }
    }

    /// True once the browser is unusable: its main process exited (a crash, a kill from
    /// outside) or its DevTools connection broke, which ends the handler task.
    fn is_dead(&mut self) -> bool {
        self.handler.is_finished() || matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// A failed DevTools call as the seam reports it: a crash when the browser is gone.
    fn call_error(&mut self, message: String) -> BrowserError {
        match self.is_dead() {
            true => BrowserError::Crashed { detail: message },
            false => BrowserError::Cdp(message),
        }
    }
}

impl Drop for ChromiumSession {
    /// The last line of defence (actor killed, task aborted, panic): kill the process group.
    fn drop(&mut self) {
        if !self.reaped {
            self.settings.downloads.abort();
            self.handler.abort();
            kill_group(self.pgid);
            remove_profile(&self.profile_dir);
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
            let result = actions::execute(&self.page, action, bounds, &self.settings).await;
            match result {
                Err(failure) if self.is_dead() => Err(actions::crashed(&failure.message)),
                other => other,
            }
        })
    }

    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>> {
        Box::pin(async move {
            let result = actions::blank(&self.page).await;
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
            let result =
                screenshot::capture(&self.page, &self.settings, screenshot, dom, masks).await;
            result.map_err(|e| self.call_error(e))
        })
    }

    fn close(self: Box<Self>, mode: CloseMode) -> BoxFuture<'static, CloseReport> {
        Box::pin(self.close_inner(mode))
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

fn spawn_process(spec: &LaunchSpec) -> Result<Spawned, String> {
    let mut cmd = Command::new(&spec.chromium);
    for switch in BASE_SWITCHES {
        cmd.arg(format!("--{switch}"));
    }
    if nix::unistd::geteuid().is_root() {
        cmd.arg("--no-sandbox");
    }
    cmd.arg(format!("--user-data-dir={}", spec.profile_dir.display()))
        .arg(format!(
            "--window-size={},{}",
            spec.viewport.width, spec.viewport.height
        ));
    // The operator's switches first, without any that would route around the proxy; the
    // egress switches last, so they win (see `egress.rs`).
    let (extra, _rerouting) = egress::split_operator_args(&spec.extra_args);
    for switch in extra {
        cmd.arg(format!("--{switch}"));
    }
    if let Some(proxy) = spec.proxy {
        for switch in egress::switches(proxy) {
            cmd.arg(format!("--{switch}"));
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", spec.chromium.display()))?;
    let pid = child
        .id()
        .ok_or_else(|| "Chromium exited immediately".to_owned())?;
    Ok(Spawned {
        child: Some(child),
        pgid: Pid::from_raw(pid as i32),
        profile_dir: spec.profile_dir.clone(),
    })
}

/// Reads stderr until Chromium prints its DevTools URL, then keeps draining it in a task so a
/// full pipe can never stall the browser.
async fn read_devtools_url(child: &mut Child) -> Result<String, String> {
    let stderr = child.stderr.take().ok_or("Chromium stderr not captured")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| format!("reading Chromium output: {e}"))?
    {
        if let Some(url) = line.strip_prefix("DevTools listening on ") {
            let url = url.trim().to_owned();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::trace!(target: "pilothouse::chromium", "{line}");
                }
            });
            return Ok(url);
        }
        if seen.len() < 20 {
            seen.push(line);
        }
    }
    Err(format!(
        "Chromium exited before its DevTools endpoint was ready: {}",
        seen.join(" | ")
    ))
}

/// SIGKILLs a process group we created. ESRCH (already gone) is the expected case.
fn kill_group(pgid: Pid) {
    match killpg(pgid, Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid = pgid.as_raw(), error = %e, "killpg failed"),
    }
}

/// One attempt, for drop paths that must not sleep.
fn remove_profile(dir: &Path) {
    if !dir.as_os_str().is_empty() {
        remove_singleton_dir(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Chromium keeps its process-singleton socket in `$TMPDIR/org.chromium.Chromium.XXXXXX`,
/// linked from the profile as `SingletonSocket`; a killed browser leaves that dir behind. The
/// link identifies it as ours. (Pointing TMPDIR into the profile would exceed the 108-byte
/// limit of a Unix socket path.)
fn remove_singleton_dir(profile: &Path) {
    let Ok(socket) = std::fs::read_link(profile.join("SingletonSocket")) else {
        return;
    };
    if let Some(parent) = socket.parent() {
        let ours = parent
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("org.chromium.Chromium."));
        if ours {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

fn remove_profile_checked(dir: &Path) -> Result<(), String> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    remove_singleton_dir(dir);
    // Chromium's last writes can race the first attempt; retry briefly.
    let mut last = None;
    for attempt in 0..3 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(20 << attempt));
    }
    Err(format!(
        "could not remove profile dir {}: {}",
        dir.display(),
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}
