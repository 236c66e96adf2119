//! Where page-derived text enters Pilothouse: every reply of the Browser actor (action results,
//! URLs, errors, read-only inspections, captured DOMs) passes through here, scrubbed of
//! credentials first and then cut to `[limits] max_result_bytes`. Nothing downstream (events,
//! status, recordings, reports, prompts to the model) needs a scrub of its own.

use std::sync::Arc;

use crate::caps::{RESULT_KEY, cap_text, cap_value};
use crate::event::ActionFailure;
use crate::page_driver::{ActionOutput, BrowserError, Capture};
use crate::scrub::Scrubber;

/// The run's scrubber and per-result cap.
#[derive(Clone, Debug)]
pub(crate) struct Seam {
    scrubber: Arc<Scrubber>,
    max_result_bytes: usize,
}

impl Seam {
    pub(crate) fn new(scrubber: Arc<Scrubber>, max_result_bytes: usize) -> Self {
        Self {
            scrubber,
            max_result_bytes,
        }
    }

    /// Scrub, then cut: a cut can never leave part of a credential behind.
    fn text(&self, text: String) -> String {
        cap_text(
            self.scrubber.scrub(&text),
            self.max_result_bytes,
            RESULT_KEY,
        )
    }

    /// An action's result or failure.
    pub(crate) fn result(
        &self,
        result: Result<ActionOutput, ActionFailure>,
    ) -> Result<ActionOutput, ActionFailure> {
        match result {
            Ok(out) => Ok(ActionOutput {
                text: self.text(out.text),
                value: out.value.map(|v| {
                    cap_value(
                        self.scrubber.scrub_value(v),
                        self.max_result_bytes,
                        RESULT_KEY,
                    )
                }),
                url: out.url.map(|u| self.text(u)),
                screenshot: out.screenshot,
                settle: out.settle,
            }),
            Err(failure) => Err(ActionFailure {
                code: failure.code,
                message: self.text(failure.message),
            }),
        }
    }

    /// A capture's DOM, or its error.
    pub(crate) fn capture(
        &self,
        capture: Result<Capture, BrowserError>,
    ) -> Result<Capture, BrowserError> {
        capture
            .map(|c| Capture {
                dom: c.dom.map(|d| self.text(d)),
                ..c
            })
            .map_err(|e| self.error(e))
    }

    /// Any other error the browser hands back: the text it carries (a DevTools message that
    /// may quote the page, Chromium's output) is scrubbed and cut.
    pub(crate) fn error(&self, error: BrowserError) -> BrowserError {
        error.map_text(|text| self.text(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Secret;
    use serde_json::json;

    fn seam(max: usize) -> Seam {
        let credentials = [("pw".to_owned(), Secret::new("hunter2-Secret"))].into();
        Seam::new(Arc::new(Scrubber::new(&credentials)), max)
    }

    #[test]
    fn results_are_scrubbed_before_they_are_cut() {
        let seam = seam(1024);
        let long = format!("{}hunter2-Secret", "x".repeat(1020));
        let out = ActionOutput {
            text: long.clone(),
            value: Some(json!({"a": long, "b": "hunter2%2DSecret"})),
            url: Some("http://h/?p=hunter2-Secret".into()),
            ..ActionOutput::default()
        };
        let out = seam.result(Ok(out)).unwrap();
        let all = format!("{} {:?} {:?}", out.text, out.value, out.url);
        assert!(!all.contains("hunter"), "{all}");
        assert!(out.text.contains("[truncated"), "{}", out.text);
        assert_eq!(out.url.as_deref(), Some("http://h/?p=[credential:pw]"));
        let failed = seam.result(Err(ActionFailure {
            code: crate::run::ErrorCode::ActionFailed,
            message: "script threw: hunter2-Se".into(),
        }));
        assert_eq!(failed.unwrap_err().message, "script threw: [credential:pw]");
        let dom = seam.capture(Ok(Capture {
            dom: Some("<input value=\"hunter2-Secret\">".into()),
            ..Capture::default()
        }));
        assert_eq!(
            dom.unwrap().dom.as_deref(),
            Some("<input value=\"[credential:pw]\">")
        );
        let quoted = seam.capture(Err(BrowserError::Cdp(
            "Uncaught: 'hunter2-Secret' is not a function".into(),
        )));
        assert_eq!(
            quoted.unwrap_err().to_string(),
            "Uncaught: '[credential:pw]' is not a function"
        );
        let dead = seam.error(BrowserError::Crashed {
            detail: format!("{}hunter2-Secret", "y".repeat(1100)),
        });
        let dead = dead.to_string();
        assert!(!dead.contains("hunter"), "{dead}");
        assert!(dead.contains("[truncated"), "{dead}");
    }
}
