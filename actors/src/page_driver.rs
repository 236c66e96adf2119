//! The browser seam: what the Browser actor needs from a launched browser and its page.
//!
//! The real implementation is [`crate::chromium`]; unit tests of actor logic plug in a fake.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::event::{ActionFailure, SettleReport};
use crate::request::{Action, Viewport};
use crate::run::RunId;

mod error;
mod storage_state;

pub use error::BrowserError;
pub use storage_state::{OriginStorage, StorageItem, StorageState, StoredCookie};

/// Everything needed to launch one run's browser.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    /// The run, for logs and the profile dir name.
    pub run_id: RunId,
    /// The Chromium executable.
    pub chromium: PathBuf,
    /// A fresh, empty profile directory under the configured profile root.
    pub profile_dir: PathBuf,
    /// The page's size.
    pub viewport: Viewport,
    /// Extra switches, without the leading `--`.
    pub extra_args: Vec<String>,
    /// Bound on process start, DevTools connection and page creation.
    pub launch_timeout: Duration,
    /// JPEG quality of screenshots.
    pub screenshot_quality: u8,
    /// Size caps of observations and markdown extracts.
    pub observe: crate::config::ObserveCaps,
    /// Settling bounds.
    pub settle: crate::config::SettleConfig,
    /// The run's guardrails for every request its browser makes: the launcher starts the run's
    /// filtering proxy with them (a pooled context's proxy is armed with them), and every
    /// request goes through it. `None` only for drivers that make no request of their own.
    pub egress: Option<RunEgress>,
    /// The run's credential scrubber: the driver applies it to page text before it cuts
    /// anything (snapshot caps, clipped URLs), and uses it to find fields that show a
    /// credential when it masks screenshots.
    pub scrubber: std::sync::Arc<crate::scrub::Scrubber>,
    /// `[limits] max_result_bytes`: a captured DOM is read only up to a few times this (the
    /// browser seam cuts it to this after the scrub), so a huge page costs no huge transfer.
    pub max_result_bytes: usize,
    /// `observe` leaves out form fields and every control but links (read and navigate tasks:
    /// what a model cannot use, it is not shown).
    pub hide_forms: bool,
    /// What happens to files the page downloads (refused unless the request allows them).
    pub downloads: crate::download::DownloadPolicy,
}

/// A run's request-level guardrails, as handed to the browser's filtering proxy. Opaque outside
/// the engine: only the engine makes one.
#[derive(Clone, Debug)]
pub struct RunEgress(pub(crate) crate::proxy::Armed);

/// Time bounds of one action, all derived from the action in one place
/// ([`ActionBounds::for_action`]) so no layer cuts an action short with a bound of its own.
#[derive(Clone, Copy, Debug)]
pub struct ActionBounds {
    /// Element waits and the action itself: the action's own `timeout_ms` when it has one,
    /// else the run's `action_timeout_ms`.
    pub action: Duration,
    /// A navigation's load.
    pub navigation: Duration,
    /// Time left until the run's deadline, when it has started counting.
    pub run_left: Option<Duration>,
}

/// How long past the run's deadline the browser's outer bound still waits, so the deadline
/// (ending the run `timed_out`) and not the action's bound ends an action that runs into it.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

impl ActionBounds {
    /// The bounds of `action` in a run with these limits: its own `timeout_ms` (a `wait_for`'s)
    /// replaces `action_timeout_ms`.
    pub fn for_action(
        action: &Action,
        action_timeout_ms: u64,
        navigation_timeout_ms: u64,
        run_left: Option<Duration>,
    ) -> Self {
        Self {
            action: Duration::from_millis(action.own_timeout_ms().unwrap_or(action_timeout_ms)),
            navigation: Duration::from_millis(navigation_timeout_ms),
            run_left,
        }
    }

    /// The bound on the whole call to the page: the action plus a navigation it may trigger
    /// and settle after, capped by the time left until the run's deadline (plus a grace).
    pub fn outer(&self) -> Duration {
        let own = self.action + self.navigation;
        match self.run_left {
            Some(left) => own.min(left + DEADLINE_GRACE),
            None => own,
        }
    }
}

/// What a successful action produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionOutput {
    /// A short text for the action event ("Navigated to … (status 200)").
    pub text: String,
    /// The value kept by `store_as`, when the action reads one.
    pub value: Option<Value>,
    /// JPEG bytes of a screenshot action (also written to the run's recording by the router).
    pub screenshot: Option<Vec<u8>>,
    /// The main frame's URL after the action, when it may have navigated.
    pub url: Option<String>,
    /// What settling after the action waited for, for the actions that settle.
    pub settle: Option<SettleReport>,
}

/// What the recorder takes from the page: a viewport JPEG and the DOM, as asked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capture {
    /// JPEG bytes of the viewport.
    pub jpeg: Option<Vec<u8>>,
    /// Why the screenshot was withheld (a credential showed where it could not be masked).
    pub withheld: Option<String>,
    /// `document.documentElement.outerHTML`.
    pub dom: Option<String>,
}

/// How to end a browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseMode {
    /// Ask it to exit (`Browser.close`) and wait up to this long, then kill what is left.
    Graceful(Duration),
    /// Kill the process group at once: cancel, deadline and crash paths, where a stop must be
    /// immediate and the throwaway profile needs no flush.
    Kill,
}

/// How a browser close went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReport {
    /// The browser exited on its own after `Browser.close`.
    pub graceful: bool,
    /// A problem worth recording (the process had to be killed...).
    pub problem: Option<BrowserError>,
}

/// Launches browsers.
pub trait BrowserLauncher: Send + Sync + 'static {
    /// Starts a browser and opens its page, within `spec.launch_timeout`.
    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'static, Result<Box<dyn PageDriver>, BrowserError>>;

    /// How this launcher keeps a run's traffic inside its guardrails, as `stats()` and the
    /// start-up log report it (`proxy+webrtc-proxied-only` for Chromium).
    fn egress(&self) -> &'static str {
        "unknown (custom launcher)"
    }

    /// True when runs may share this launcher's browsers through the engine's warm pool
    /// (`isolation = "context"`); a launcher that answers false gets a `launch` per run.
    fn pooled(&self) -> bool {
        false
    }
}

/// One run's live browser and page.
pub trait PageDriver: Send + 'static {
    /// Executes one action. The caller bounds it in time and may drop it when the run stops.
    fn execute<'a>(
        &'a mut self,
        action: &'a Action,
        bounds: ActionBounds,
    ) -> BoxFuture<'a, Result<ActionOutput, ActionFailure>>;

    /// Captures the page for the recording, with the text of elements matching `masks` hidden
    /// in the screenshot. Drivers that cannot capture return nothing.
    fn capture<'a>(
        &'a mut self,
        screenshot: bool,
        dom: bool,
        masks: &'a [String],
    ) -> BoxFuture<'a, Result<Capture, BrowserError>> {
        let _ = (screenshot, dom, masks);
        Box::pin(async { Ok(Capture::default()) })
    }

    /// The cookies the run's browser would send to `url` (name, value), for an `api_request`
    /// that sends them. Drivers without cookies refuse.
    fn cookies_for<'a>(
        &'a mut self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, BrowserError>> {
        let _ = url;
        Box::pin(async { Err(BrowserError::Cdp("this browser cannot read cookies".into())) })
    }

    /// The cookies of the run's browser context and the localStorage of `origins`: what a
    /// saved session holds. Drivers without storage answer an error.
    fn storage_state<'a>(
        &'a mut self,
        origins: &'a [String],
    ) -> BoxFuture<'a, Result<StorageState, BrowserError>> {
        let _ = origins;
        Box::pin(async { Err(no_storage()) })
    }

    /// Puts a saved session's cookies and localStorage into the run's browser context, before
    /// its first action.
    fn restore_storage<'a>(
        &'a mut self,
        state: &'a StorageState,
    ) -> BoxFuture<'a, Result<(), BrowserError>> {
        let _ = state;
        Box::pin(async { Err(no_storage()) })
    }

    /// The current page's `localStorage` (or `sessionStorage`) value of `key`, if any.
    fn read_storage<'a>(
        &'a mut self,
        session: bool,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrowserError>> {
        let _ = (session, key);
        Box::pin(async { Err(no_storage()) })
    }

    /// Leaves the page on `about:blank` (after a guardrail refused where it landed).
    fn blank(&mut self) -> BoxFuture<'_, Result<(), BrowserError>>;

    /// Ends the browser as `mode` says, waits for its processes to exit and removes its profile;
    /// a graceful close that does not finish in time kills the process tree.
    fn close(self: Box<Self>, mode: CloseMode) -> BoxFuture<'static, CloseReport>;

    /// The browser's main process id, for tests and orphan sweeps.
    fn pid(&self) -> Option<u32>;
}

/// What a driver without cookies and storage answers.
fn no_storage() -> BrowserError {
    BrowserError::Cdp("this browser keeps no cookies or storage Pilothouse can read".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::WaitState;

    fn wait_for(timeout_ms: Option<u64>) -> Action {
        Action::WaitFor {
            selector: "#late".into(),
            state: WaitState::Visible,
            timeout_ms,
        }
    }

    #[test]
    fn an_actions_own_timeout_sets_every_bound() {
        let bounds = ActionBounds::for_action(&wait_for(Some(20_000)), 5_000, 7_000, None);
        assert_eq!(bounds.action, Duration::from_millis(20_000));
        assert_eq!(bounds.outer(), Duration::from_millis(27_000));
        let bounds = ActionBounds::for_action(&wait_for(None), 5_000, 7_000, None);
        assert_eq!(bounds.action, Duration::from_millis(5_000));
        let click = Action::Click {
            selector: "#go".into(),
        };
        let bounds = ActionBounds::for_action(&click, 5_000, 7_000, None);
        assert_eq!(bounds.outer(), Duration::from_millis(12_000));
    }

    #[test]
    fn the_outer_bound_stops_shortly_after_the_runs_deadline() {
        let left = Some(Duration::from_secs(3));
        let bounds = ActionBounds::for_action(&wait_for(Some(20_000)), 5_000, 7_000, left);
        assert_eq!(bounds.action, Duration::from_millis(20_000));
        assert_eq!(bounds.outer(), Duration::from_secs(3) + DEADLINE_GRACE);
    }
}
