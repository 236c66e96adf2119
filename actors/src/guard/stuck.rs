//! Stuck detection over a run's recent actions: the same action repeated, short cycles,
//! failure clusters and URL revisits, with hint / warning / stop levels (the reference system's
//! rules and default thresholds).
//!
//! A URL revisit is a successful action that landed on a page first visited at least
//! `revisit_gap` actions earlier. Only real visits count: a `goto`, or another action whose
//! page actually changed (the router reports them); a click that stayed put visits nothing.
//! The gap is measured from the first visit, so returning again and again keeps being seen;
//! every detection raises the escalation count (as in the reference), so rapid returns go from
//! hint to warning.

use std::collections::{HashMap, VecDeque};

use crate::event::Severity;
use crate::request::StuckSpec;

/// One detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) severity: Severity,
    /// `repetition`, `cycle`, `failure_cluster`, `url_revisit`.
    pub(crate) pattern: &'static str,
    pub(crate) message: String,
}

struct Entry {
    signature: String,
    failed: bool,
}

/// The detector of one run.
pub(crate) struct StuckDetector {
    spec: StuckSpec,
    recent: VecDeque<Entry>,
    /// Visited pages (normalized) with the action index of their first visit.
    first_visits: HashMap<String, usize>,
    actions: usize,
    /// Raised by every detection, lowered by each clean action.
    stuck_count: usize,
}

impl StuckDetector {
    pub(crate) fn new(spec: StuckSpec) -> Self {
        Self {
            spec,
            recent: VecDeque::new(),
            first_visits: HashMap::new(),
            actions: 0,
            stuck_count: 0,
        }
    }

    /// Records an action (its normalized signature, whether it failed, the pages it visited)
    /// and returns the most serious detection, if any. A failed action visits nothing.
    pub(crate) fn observe(
        &mut self,
        signature: String,
        failed: bool,
        visits: &[String],
    ) -> Option<Verdict> {
        self.actions += 1;
        self.recent.push_back(Entry { signature, failed });
        while self.recent.len() > self.spec.window_size.max(1) {
            self.recent.pop_front();
        }
        let revisit = if failed { None } else { self.revisit(visits) };
        let verdicts = [self.repetition(), self.cycle(), self.failures(), revisit];
        let worst = verdicts.into_iter().flatten().max_by_key(|v| v.severity);
        match &worst {
            Some(_) => self.stuck_count += 1,
            None => self.stuck_count = self.stuck_count.saturating_sub(1),
        }
        worst
    }

    /// The escalation count (for tests that follow the reference's).
    #[cfg(test)]
    pub(crate) fn stuck_count(&self) -> usize {
        self.stuck_count
    }

    fn escalate(&self) -> Severity {
        match self.stuck_count {
            0 => Severity::Hint,
            1 => Severity::Warning,
            _ => Severity::Stop,
        }
    }

    fn repetition(&self) -> Option<Verdict> {
        let last = &self.recent.back()?.signature;
        let run = self
            .recent
            .iter()
            .rev()
            .take_while(|e| &e.signature == last)
            .count();
        let s = &self.spec;
        let severity = if run >= s.repeat_stop {
            Severity::Stop
        } else if run >= s.repeat_warning {
            Severity::Warning
        } else if run >= s.repeat_hint {
            Severity::Hint
        } else {
            return None;
        };
        Some(Verdict {
            severity,
            pattern: "repetition",
            message: format!(
                "the same action was repeated {run} times in a row; try something different"
            ),
        })
    }

    fn cycle(&self) -> Option<Verdict> {
        let sigs: Vec<&str> = self.recent.iter().map(|e| e.signature.as_str()).collect();
        for len in 2..=self.spec.cycle_max_length {
            let span = len * self.spec.cycle_repeats;
            if sigs.len() < span {
                continue;
            }
            let tail = &sigs[sigs.len() - span..];
            let pattern = &tail[..len];
            let distinct = pattern.iter().any(|s| *s != pattern[0]);
            if distinct && tail.chunks(len).all(|chunk| chunk == pattern) {
                return Some(Verdict {
                    severity: self.escalate(),
                    pattern: "cycle",
                    message: format!(
                        "the last {span} actions repeat a cycle of {len}; the approach is not working"
                    ),
                });
            }
        }
        None
    }

    fn failures(&self) -> Option<Verdict> {
        let window = self.spec.failure_window;
        let failed = self
            .recent
            .iter()
            .rev()
            .take(window)
            .filter(|e| e.failed)
            .count();
        (failed >= self.spec.failure_threshold).then(|| Verdict {
            severity: self.escalate(),
            pattern: "failure_cluster",
            message: format!("{failed} of the last {window} actions failed"),
        })
    }

    fn revisit(&mut self, visits: &[String]) -> Option<Verdict> {
        let now = self.actions;
        let mut found = None;
        for url in visits {
            let key = page_key(url);
            let Some(&first) = self.first_visits.get(&key) else {
                self.first_visits.insert(key, now);
                continue;
            };
            if found.is_none() && now - first >= self.spec.revisit_gap {
                found = Some(Verdict {
                    severity: if self.stuck_count >= 2 {
                        Severity::Warning
                    } else {
                        Severity::Hint
                    },
                    pattern: "url_revisit",
                    message: format!(
                        "already visited {key}, first {} actions ago; what that visit showed \
                         may already be enough",
                        now - first
                    ),
                });
            }
        }
        found
    }
}

/// A page's identity for revisits: host lower-cased, no fragment, no trailing slash; the query
/// kept (`?q=alpha` and `?q=beta` are different pages).
fn page_key(url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else {
        return url.split('#').next().unwrap_or(url).to_owned();
    };
    let host = u.host_str().unwrap_or_default();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!(
        "{}://{host}{port}{}{query}",
        u.scheme(),
        u.path().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> StuckDetector {
        StuckDetector::new(StuckSpec::default())
    }

    #[test]
    fn repetition_escalates_hint_warning_stop_at_3_5_7() {
        let mut d = detector();
        let levels: Vec<_> = (0..7)
            .map(|_| {
                d.observe("click #next".into(), false, &[])
                    .map(|v| v.severity)
            })
            .collect();
        assert_eq!(
            levels,
            vec![
                None,
                None,
                Some(Severity::Hint),
                Some(Severity::Hint),
                Some(Severity::Warning),
                Some(Severity::Warning),
                Some(Severity::Stop)
            ]
        );
    }

    #[test]
    fn a_cycle_of_two_repeated_three_times_escalates_to_stop() {
        let mut d = detector();
        let mut seen = Vec::new();
        for i in 0..10 {
            let sig = if i % 2 == 0 { "click #a" } else { "click #b" };
            if let Some(v) = d.observe(sig.into(), false, &[]) {
                seen.push((v.pattern, v.severity));
            }
        }
        assert_eq!(seen.first(), Some(&("cycle", Severity::Hint)));
        assert!(seen.contains(&("cycle", Severity::Warning)));
        assert_eq!(seen.last(), Some(&("cycle", Severity::Stop)));
    }

    #[test]
    fn failure_clusters_and_clean_actions_decay() {
        let mut d = detector();
        assert!(d.observe("a".into(), true, &[]).is_none());
        assert!(d.observe("b".into(), true, &[]).is_none());
        let v = d.observe("c".into(), true, &[]).unwrap();
        assert_eq!((v.pattern, v.severity), ("failure_cluster", Severity::Hint));
        for sig in ["d", "e", "f", "g", "h"] {
            d.observe(sig.into(), false, &[]);
        }
        assert_eq!(d.stuck_count, 0);
    }

    #[test]
    fn url_revisits_after_the_gap_are_hinted() {
        let mut d = detector();
        let a = ["https://a.test/".to_owned()];
        d.observe("goto a".into(), false, &a);
        for i in 0..4 {
            d.observe(format!("x{i}"), false, &["https://b.test/".to_owned()]);
        }
        let v = d
            .observe("goto a".into(), false, &["https://A.test#top".to_owned()])
            .unwrap();
        assert_eq!((v.pattern, v.severity), ("url_revisit", Severity::Hint));
    }
}
