//! The browser seam's error: why a launch, a capture, a blank or a close went wrong, as an enum
//! the compiler checks rather than a sentence, and the one place such an error becomes a run's
//! [`ErrorCode`].
//!
//! Page- or Chromium-derived text rides in the `String` fields; the Browser actor's seam
//! (`browser/seam.rs`) scrubs and cuts exactly those ([`BrowserError::map_text`]) before the
//! error leaves it. Action failures are not here: they are [`crate::ActionFailure`]s.

use std::time::Duration;

use crate::run::ErrorCode;

impl BrowserError {
    /// The code a run ends with when this error ends it: a launch that fails is
    /// `SETUP_FAILED`, a browser that died or is gone is `BROWSER_CRASHED`, a call the run's
    /// stop interrupted is `CANCELLED` (the session reports the stop's own outcome instead),
    /// and a call to a live browser that failed or ran out of time is `ACTION_FAILED`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Launch { .. } | Self::LaunchTimeout { .. } => ErrorCode::SetupFailed,
            Self::Crashed { .. } | Self::NotRunning => ErrorCode::BrowserCrashed,
            Self::Interrupted { .. } => ErrorCode::Cancelled,
            Self::Timeout { .. } | Self::Cdp(_) | Self::ExitTimeout { .. } => {
                ErrorCode::ActionFailed
            }
        }
    }

    /// The same error with `f` applied to its text (every variant carries at most one), so
    /// the seam can scrub and cut it without knowing the variants.
    pub(crate) fn map_text(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Self::Launch { reason } => Self::Launch { reason: f(reason) },
            Self::Crashed { detail } => Self::Crashed { detail: f(detail) },
            Self::Cdp(message) => Self::Cdp(f(message)),
            other @ (Self::LaunchTimeout { .. }
            | Self::Timeout { .. }
            | Self::NotRunning
            | Self::Interrupted { .. }
            | Self::ExitTimeout { .. }) => other,
        }
    }
}

/// What went wrong at the browser seam.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// The browser could not be started: its executable, its profile, its DevTools
    /// connection or its first page.
    #[error("browser launch failed: {reason}")]
    Launch {
        /// What failed, with the underlying error.
        reason: String,
    },
    /// The browser did not come up within `[timeouts] launch_ms`.
    #[error(
        "browser launch failed: the browser did not start within {} ms (raise [timeouts] launch_ms on a slow machine)",
        .limit.as_millis()
    )]
    LaunchTimeout {
        /// The bound it ran into.
        limit: Duration,
    },
    /// The browser's process exited or its DevTools connection broke.
    #[error("the browser crashed: {detail}")]
    Crashed {
        /// The error of the call that found it dead.
        detail: String,
    },
    /// A call to the browser did not finish within its bound.
    #[error("{what} timed out after {} ms", .limit.as_millis())]
    Timeout {
        /// The call: `capture`, `blank`, `close`.
        what: &'static str,
        /// The bound it ran into.
        limit: Duration,
    },
    /// No browser is running: it was never launched, or it is closed or gone.
    #[error("the browser is not running")]
    NotRunning,
    /// The run was stopped (cancel, deadline, shutdown) while the call waited.
    #[error("the run was stopped during {what}")]
    Interrupted {
        /// The call: `browser launch`.
        what: &'static str,
    },
    /// A DevTools call to a live browser failed.
    #[error("{0}")]
    Cdp(String),
    /// A graceful close ran out of time, so the browser's process group was killed.
    #[error("browser did not exit within {} ms; killed its process group", .limit.as_millis())]
    ExitTimeout {
        /// `[timeouts] close_ms`.
        limit: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_the_code_its_run_ends_with() {
        let launch = BrowserError::Launch {
            reason: "cannot start /nope: No such file".into(),
        };
        assert_eq!(launch.code(), ErrorCode::SetupFailed);
        let slow = BrowserError::LaunchTimeout {
            limit: Duration::from_secs(30),
        };
        assert_eq!(slow.code(), ErrorCode::SetupFailed);
        assert!(slow.to_string().contains("[timeouts] launch_ms"), "{slow}");
        let crashed = BrowserError::Crashed {
            detail: "connection closed".into(),
        };
        assert_eq!(crashed.code(), ErrorCode::BrowserCrashed);
        assert_eq!(BrowserError::NotRunning.code(), ErrorCode::BrowserCrashed);
        let stopped = BrowserError::Interrupted {
            what: "browser launch",
        };
        assert_eq!(stopped.code(), ErrorCode::Cancelled);
        let late = BrowserError::Timeout {
            what: "capture",
            limit: Duration::from_millis(3_000),
        };
        assert_eq!(late.code(), ErrorCode::ActionFailed);
        assert_eq!(late.to_string(), "capture timed out after 3000 ms");
    }

    #[test]
    fn map_text_reaches_every_text_and_nothing_else() {
        let upper = |e: BrowserError| e.map_text(|t| t.to_uppercase());
        let texts = [
            BrowserError::Launch { reason: "a".into() },
            BrowserError::Crashed { detail: "b".into() },
            BrowserError::Cdp("c".into()),
        ];
        let mapped: Vec<String> = texts.into_iter().map(|e| upper(e).to_string()).collect();
        assert_eq!(
            mapped,
            ["browser launch failed: A", "the browser crashed: B", "C"]
        );
        let bare = BrowserError::ExitTimeout {
            limit: Duration::from_millis(5),
        };
        assert_eq!(upper(bare.clone()), bare);
    }
}
