//! Run-level limits the router enforces across actions: what the task kind allows, how many
//! distinct pages a run may land on, failures in a row, and stuck detection.

use std::collections::HashSet;

use crate::event::ActionFailure;
use crate::event::Severity;
use crate::guard::{StuckDetector, Verdict};
use crate::page_driver::ActionOutput;
use crate::record::RunRecord;
use crate::request::{Action, DEFAULT_MAX_CONSECUTIVE_ERRORS, DEFAULT_MAX_URLS_VISITED, TaskKind};

/// A refusal by a limit: the check's name and why.
#[derive(Debug)]
pub(super) struct LimitBlock {
    pub(super) check: &'static str,
    pub(super) reason: String,
}

impl From<LimitBlock> for crate::guard::Block {
    fn from(b: LimitBlock) -> Self {
        Self {
            check: b.check,
            reason: b.reason,
        }
    }
}

/// What the limits conclude after an action.
pub(super) enum Judgement {
    /// Nothing to say.
    Fine,
    /// A hint or warning for the driver.
    Nudge(Verdict),
    /// The run must stop with STUCK.
    Stop(Verdict),
}

pub(super) struct RunLimits {
    task_kind: TaskKind,
    max_urls: usize,
    visited: HashSet<String>,
    max_errors: u32,
    errors_in_a_row: u32,
    stuck: Option<StuckDetector>,
    /// Pages the current action navigated to (a sequence may visit several), for stuck
    /// detection; emptied when the action is judged.
    visits: Vec<String>,
}

impl RunLimits {
    pub(super) fn new(record: &RunRecord) -> Self {
        let g = &record.request.guardrails;
        let stuck_on = g
            .stuck
            .enabled
            .unwrap_or_else(|| record.request.driver.is_model_driven());
        Self {
            task_kind: g.kind(),
            max_urls: g.max_urls_visited.unwrap_or(DEFAULT_MAX_URLS_VISITED) as usize,
            visited: HashSet::new(),
            max_errors: g
                .max_consecutive_errors
                .unwrap_or(DEFAULT_MAX_CONSECUTIVE_ERRORS),
            errors_in_a_row: 0,
            stuck: stuck_on.then(|| StuckDetector::new(g.stuck.clone())),
            visits: Vec::new(),
        }
    }

    /// Refuses an action the task kind does not allow, or a goto to a new page past the limit.
    pub(super) fn check_before(&self, action: &Action) -> Result<(), LimitBlock> {
        if !self.task_kind.allows(action) {
            return Err(LimitBlock {
                check: "action",
                reason: format!(
                    "Action '{}' not allowed for {} tasks",
                    action.name(),
                    self.task_kind.as_str()
                ),
            });
        }
        if let Some(url) = action.target_url() {
            self.check_landing(url)?;
        }
        Ok(())
    }

    /// Counts a landing page; refuses a new one past `max_urls_visited`.
    pub(super) fn admit_landing(&mut self, url: &str) -> Result<(), LimitBlock> {
        self.check_landing(url)?;
        self.visited.insert(page_key(url));
        Ok(())
    }

    /// Notes that the current action navigated to `url` (a goto, or a page that changed).
    pub(super) fn note_visit(&mut self, url: &str) {
        self.visits.push(url.to_owned());
    }

    fn check_landing(&self, url: &str) -> Result<(), LimitBlock> {
        let key = page_key(url);
        if url == "about:blank" || self.visited.contains(&key) || self.visited.len() < self.max_urls
        {
            return Ok(());
        }
        Err(LimitBlock {
            check: "max_urls",
            reason: format!("Max URL limit reached ({})", self.max_urls),
        })
    }

    /// Feeds an action's outcome to the error counter and the stuck detector.
    pub(super) fn judge(
        &mut self,
        action: &Action,
        output: &Result<ActionOutput, ActionFailure>,
    ) -> Judgement {
        let visits = std::mem::take(&mut self.visits);
        if output.is_ok() {
            self.errors_in_a_row = 0;
        } else {
            self.errors_in_a_row += 1;
        }
        if self.errors_in_a_row > self.max_errors {
            return Judgement::Stop(Verdict {
                severity: Severity::Stop,
                pattern: "consecutive_errors",
                message: format!(
                    "Too many consecutive errors ({}) — the run appears stuck",
                    self.errors_in_a_row
                ),
            });
        }
        let Some(stuck) = self.stuck.as_mut() else {
            return Judgement::Fine;
        };
        let signature = serde_json::to_string(action).unwrap_or_else(|_| action.name().to_owned());
        match stuck.observe(signature, output.is_err(), &visits) {
            None => Judgement::Fine,
            Some(v) if v.severity == Severity::Stop => Judgement::Stop(v),
            Some(v) => Judgement::Nudge(v),
        }
    }
}

/// Pages are counted without their fragment.
fn page_key(url: &str) -> String {
    url.split('#').next().unwrap_or(url).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::ErrorCode;

    fn limits(max_errors: u32, max_urls: usize) -> RunLimits {
        RunLimits {
            task_kind: TaskKind::Read,
            max_urls,
            visited: HashSet::new(),
            max_errors,
            errors_in_a_row: 0,
            stuck: None,
            visits: Vec::new(),
        }
    }

    fn failure() -> Result<ActionOutput, ActionFailure> {
        Err(ActionFailure {
            code: ErrorCode::ActionFailed,
            message: "no".into(),
        })
    }

    #[test]
    fn errors_in_a_row_past_the_limit_stop_the_run_and_a_success_resets_them() {
        let mut l = limits(2, 10);
        let shot = Action::Screenshot { full_page: false };
        assert!(matches!(l.judge(&shot, &failure()), Judgement::Fine));
        assert!(matches!(l.judge(&shot, &failure()), Judgement::Fine));
        assert!(matches!(
            l.judge(&shot, &Ok(ActionOutput::default())),
            Judgement::Fine
        ));
        l.judge(&shot, &failure());
        l.judge(&shot, &failure());
        match l.judge(&shot, &failure()) {
            Judgement::Stop(v) => assert!(v.message.contains("Too many consecutive errors (3)")),
            _ => panic!("expected a stop"),
        }
    }

    #[test]
    fn read_tasks_refuse_typing_and_pages_past_the_limit() {
        let mut l = limits(5, 2);
        let typing = Action::Type {
            selector: None,
            text: Some("x".into()),
            credential_ref: None,
        };
        assert_eq!(l.check_before(&typing).unwrap_err().check, "action");
        l.admit_landing("https://a.test/").unwrap();
        l.admit_landing("https://b.test/#x").unwrap();
        l.admit_landing("https://a.test/#again").unwrap();
        assert_eq!(
            l.admit_landing("https://c.test/").unwrap_err().check,
            "max_urls"
        );
        let goto = Action::Goto {
            url: "https://c.test/".into(),
        };
        assert_eq!(l.check_before(&goto).unwrap_err().check, "max_urls");
    }

    /// test_guardrails.py TestNavigationTracking and TestErrorTracking: a page limit of 2
    /// admits a, a again, b, and refuses c; with 2 errors allowed the third stops the run and
    /// a success resets the count.
    #[test]
    fn the_reference_navigation_and_error_tables() {
        let mut l = limits(2, 2);
        l.admit_landing("https://a.com/").unwrap();
        l.admit_landing("https://a.com/").unwrap();
        l.admit_landing("https://b.com/").unwrap();
        let refused = l.admit_landing("https://c.com/").unwrap_err();
        assert!(refused.reason.contains("Max URL limit"), "{refused:?}");
        let shot = Action::Screenshot { full_page: false };
        assert!(matches!(l.judge(&shot, &failure()), Judgement::Fine));
        assert!(matches!(l.judge(&shot, &failure()), Judgement::Fine));
        assert!(matches!(l.judge(&shot, &failure()), Judgement::Stop(_)));
        let mut l = limits(2, 2);
        l.judge(&shot, &failure());
        l.judge(&shot, &failure());
        l.judge(&shot, &Ok(ActionOutput::default()));
        assert!(matches!(l.judge(&shot, &failure()), Judgement::Fine));
    }

    /// Only noted visits reach revisit detection: a click that stayed on the page (and so was
    /// not noted by the pipeline) is no visit, even though its output carries the page's URL.
    #[test]
    fn only_noted_visits_count_as_revisits() {
        let mut l = limits(100, 100);
        let mut spec = crate::request::StuckSpec {
            revisit_gap: 3,
            repeat_hint: 20,
            ..Default::default()
        };
        spec.enabled = Some(true);
        l.stuck = Some(StuckDetector::new(spec));
        let at_home = Ok(ActionOutput {
            url: Some("https://a.test/home".into()),
            ..ActionOutput::default()
        });
        let click = |i: usize| Action::Click {
            selector: format!("#b{i}"),
        };
        let goto = Action::Goto {
            url: "https://a.test/home".into(),
        };
        l.note_visit("https://a.test/home");
        assert!(matches!(l.judge(&goto, &at_home), Judgement::Fine));
        // Clicks that did not navigate: the same URL in their output, no visit noted.
        for i in 0..4 {
            assert!(matches!(l.judge(&click(i), &at_home), Judgement::Fine));
        }
        // A real return is a revisit, measured from the first visit.
        l.note_visit("https://a.test/home");
        match l.judge(&goto, &at_home) {
            Judgement::Nudge(v) => assert_eq!(v.pattern, "url_revisit"),
            _ => panic!("expected a revisit hint"),
        }
    }
}
