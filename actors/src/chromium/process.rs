//! One Chromium process: spawned in its own process group with a throwaway profile, connected
//! over its DevTools socket, and gone — the whole group, and the profile — on every path.
//!
//! We spawn Chromium ourselves instead of `Browser::launch` so that we own the child and its
//! process group: a graceful close waits for the exit, and every other path (timeout, crash,
//! panic, drop) kills the group. Helpers (zygote, renderers, GPU) share the group, so none leak.
//! A run's own browser (`isolation = "process"`) and each of the pool's warm browsers are one
//! of these.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::browser::CloseParams;
use chromiumoxide::handler::viewport::Viewport as CdpViewport;
use chromiumoxide::handler::{Handler, HandlerConfig};
use futures::StreamExt;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{downloads, egress};
use crate::page_driver::{BrowserError, CloseMode, CloseReport};
use crate::request::Viewport;

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

/// What a Chromium process is started with.
pub(super) struct ProcessSpec<'a> {
    pub(super) chromium: &'a Path,
    /// A fresh profile dir; removed when the process ends.
    pub(super) profile_dir: &'a Path,
    /// The window, and the viewport chromiumoxide emulates on every page it attaches.
    pub(super) viewport: Viewport,
    /// The operator's extra switches (those that would route around the proxy are dropped).
    pub(super) extra_args: &'a [String],
    /// Where every request of the browser goes.
    pub(super) proxy: Option<SocketAddr>,
    /// Bound on spawning, the DevTools URL and connecting.
    pub(super) launch_timeout: Duration,
}

/// A running Chromium and its DevTools connection.
pub(super) struct Process {
    child: Child,
    pgid: Pid,
    profile_dir: PathBuf,
    handler: JoinHandle<()>,
    /// Cancelled when the DevTools connection ends: the browser exited, crashed or was killed.
    dead: CancellationToken,
    /// Set once the process group is known to be gone; the drop guard then does nothing.
    reaped: bool,
    pub(super) browser: Arc<Browser>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("pgid", &self.pgid)
            .field("profile_dir", &self.profile_dir)
            .finish_non_exhaustive()
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

impl Process {
    /// Writes the profile's preferences, spawns Chromium, waits for its DevTools URL and
    /// connects, within `spec.launch_timeout`.
    pub(super) async fn start(spec: ProcessSpec<'_>) -> Result<Self, BrowserError> {
        let failed = |reason: String| BrowserError::Launch { reason };
        prepare_profile(spec.profile_dir).await.map_err(failed)?;
        let mut spawned = spawn_process(&spec).map_err(failed)?;
        let child = spawned
            .child
            .as_mut()
            .expect("child present until handed over");
        let (browser, handler) = tokio::time::timeout(spec.launch_timeout, connect(child, &spec))
            .await
            .map_err(|_| BrowserError::LaunchTimeout {
                limit: spec.launch_timeout,
            })?
            .map_err(failed)?;
        let (handler, dead) = poll_handler(handler);
        let child = spawned.child.take().expect("child present");
        Ok(Self {
            child,
            pgid: spawned.pgid,
            profile_dir: std::mem::take(&mut spawned.profile_dir),
            handler,
            dead,
            reaped: false,
            browser: Arc::new(browser),
        })
    }

    /// Cancelled when the DevTools connection ends (the browser is gone).
    pub(super) fn dead(&self) -> &CancellationToken {
        &self.dead
    }

    /// True once the browser is unusable: its main process exited (a crash, a kill from
    /// outside) or its DevTools connection broke.
    pub(super) fn is_dead(&mut self) -> bool {
        self.dead.is_cancelled() || matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The main process id.
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The process group: the browser and every helper it started.
    pub(super) fn pgid(&self) -> i32 {
        self.pgid.as_raw()
    }

    /// Ends the browser as `mode` says and waits for its processes; the profile is removed in
    /// the background.
    pub(super) async fn close(mut self, mode: CloseMode) -> CloseReport {
        let mut problem = None;
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
}

impl Drop for Process {
    /// The last line of defence (actor killed, task aborted, panic): kill the process group.
    fn drop(&mut self) {
        if !self.reaped {
            self.handler.abort();
            kill_group(self.pgid);
            remove_profile(&self.profile_dir);
        }
    }
}

/// util-linux's `setpriv`, which can give Chromium a parent-death signal before it execs it.
const SETPRIV: &str = "/usr/bin/setpriv";

/// Creates the profile folder and writes its preferences (downloads go to its staging folder).
async fn prepare_profile(profile_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(profile_dir)
        .map_err(|e| format!("cannot create profile dir {}: {e}", profile_dir.display()))?;
    let staging = downloads::staging_dir(profile_dir);
    egress::write_preferences(profile_dir, &staging)
        .await
        .map_err(|e| format!("cannot write the profile's preferences: {e}"))
}

/// Reads the spawned Chromium's DevTools URL and connects to it.
async fn connect(child: &mut Child, spec: &ProcessSpec<'_>) -> Result<(Browser, Handler), String> {
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
    Browser::connect_with_config(ws_url, config)
        .await
        .map_err(|e| format!("cannot connect to Chromium DevTools: {e}"))
}

/// Polls the CDP handler in a task; the token is cancelled when the connection ends.
fn poll_handler(mut handler: Handler) -> (JoinHandle<()>, CancellationToken) {
    let dead = CancellationToken::new();
    let gone = dead.clone();
    // The handler must be polled for any CDP call to complete; it ends at the first
    // connection error so it can never spin on a dead socket.
    let task = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if let Err(error) = event {
                tracing::debug!(%error, "CDP handler stopped");
                break;
            }
        }
        gone.cancel();
    });
    (task, dead)
}

/// The command that starts Chromium. Through `setpriv --pdeathsig KILL` when it is there, so
/// that a Chromium we started dies with us even when we are SIGKILLed (the pool keeps
/// browsers up between runs: without it they would outlive a crashed orchestrator until its
/// next start swept them). The kernel signals on the exit of the thread that spawned it: a
/// runtime worker, which lives as long as the runtime.
fn chromium_command(chromium: &Path) -> Command {
    if Path::new(SETPRIV).is_file() {
        let mut cmd = Command::new(SETPRIV);
        cmd.arg("--pdeathsig").arg("KILL").arg("--").arg(chromium);
        cmd
    } else {
        Command::new(chromium)
    }
}

fn spawn_process(spec: &ProcessSpec<'_>) -> Result<Spawned, String> {
    let mut cmd = chromium_command(spec.chromium);
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
    let (extra, _rerouting) = egress::split_operator_args(spec.extra_args);
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
        profile_dir: spec.profile_dir.to_path_buf(),
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
pub(super) fn remove_profile(dir: &Path) {
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
