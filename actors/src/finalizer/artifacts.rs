//! What a session hands the Finalizer from its browser once it has closed it: the final
//! capture and the close's problem, as data. The Finalizer keeps them (writes the capture into
//! the recording, records the problems) and never sees the browser itself.

use crate::page_driver::{BrowserError, Capture};
use crate::record::RunRecord;
use crate::run::FinalizeError;

impl FinalArtifacts {
    /// A run that never had a browser (cancelled while queued, its session gone).
    pub(crate) fn none() -> Self {
        Self {
            capture: None,
            close_problem: None,
            panicked: None,
        }
    }

    /// Writes the final screenshot and DOM into the recording, and records what went wrong
    /// with the capture (a recording problem) and the close (`close_browser`).
    pub(super) async fn keep(self, record: &RunRecord, errors: &mut Vec<FinalizeError>) {
        match self.capture {
            None => {}
            Some(Ok(capture)) => {
                if let Some(jpeg) = capture.jpeg {
                    record.recorder.save_screenshot("final", &jpeg).await;
                }
                if let Some(reason) = capture.withheld {
                    record.log("warn", &format!("final screenshot withheld: {reason}"));
                }
                if let Some(dom) = capture.dom {
                    // Scrubbed and cut at the browser seam; kept, so charged to max_data_bytes.
                    record
                        .recorder
                        .save_final_dom(&record.budget.take_text(dom));
                }
            }
            Some(Err(e)) => record
                .recorder
                .problem(format!("final capture failed: {e}")),
        }
        if let Some(problem) = self.close_problem {
            errors.push(FinalizeError::new("close_browser", problem.to_string()));
        }
        if let Some(message) = self.panicked {
            errors.push(FinalizeError::new(
                "close_browser",
                format!("the final capture or close panicked ({message}); the browser was killed"),
            ));
        }
    }
}

/// The browser's last contribution to a run.
#[derive(Debug)]
pub(crate) struct FinalArtifacts {
    /// The final page as the recording asked for it (scrubbed and cut at the browser seam), or
    /// why it could not be taken; `None` when no capture was due (no browser, a crashed one, no
    /// page reached, nothing asked for).
    pub(crate) capture: Option<Result<Capture, BrowserError>>,
    /// What went wrong closing the browser (it had to be killed, it did not answer in time).
    pub(crate) close_problem: Option<BrowserError>,
    /// The capture or close panicked (a bug) with this message; the browser was killed.
    pub(crate) panicked: Option<String>,
}
