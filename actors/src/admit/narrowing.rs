//! Guardrail narrowing at submit: an allow-list that does not meet the one it narrows is
//! refused, naming the field, since the run could reach no site. (Everything else narrows
//! silently at admission; see `guard/precedence.rs`.)

use super::Validator;
use crate::guard::intersect_allowed;
use crate::request::{DEFAULT_MAX_CONSECUTIVE_ERRORS, DEFAULT_MAX_URLS_VISITED, GuardrailSpec};

/// A playbook's guardrails with its counts held to the request's: a request that sets no
/// `max_urls_visited` has the default (50), and a playbook asking for 200 (as the reference's
/// files do, to widen its hand-off) gets the request's 50, not 200.
pub(super) fn capped_by(mut playbook: GuardrailSpec, request: &GuardrailSpec) -> GuardrailSpec {
    let cap = |own: Option<u32>, outer: Option<u32>, default: u32| {
        own.map(|n| n.min(outer.unwrap_or(default)))
    };
    playbook.max_urls_visited = cap(
        playbook.max_urls_visited,
        request.max_urls_visited,
        DEFAULT_MAX_URLS_VISITED,
    );
    playbook.max_consecutive_errors = cap(
        playbook.max_consecutive_errors,
        request.max_consecutive_errors,
        DEFAULT_MAX_CONSECUTIVE_ERRORS,
    );
    playbook
}

impl Validator<'_> {
    /// The request's `allowed_domains` must meet the server's `[guardrails] allowed_domains`.
    pub(super) fn request_scope(&mut self, request: &GuardrailSpec) {
        let floor = &self.floor.allowed_domains;
        if intersect_allowed(floor, &request.allowed_domains).is_none() {
            self.push(
                "guardrails.allowed_domains",
                format!(
                    "none of these hosts is within the server's [guardrails] allowed_domains \
                     ({}); name hosts within them, or leave the list empty to get them",
                    floor.join(", ")
                ),
            );
        }
    }

    /// A playbook's `allowed_domains` must meet what the request (within the server's floor)
    /// allows: a playbook can only narrow the request's guardrails.
    pub(super) fn playbook_scope(
        &mut self,
        prefix: &str,
        playbook: &GuardrailSpec,
        request: &GuardrailSpec,
    ) {
        let Some(outer) = intersect_allowed(&self.floor.allowed_domains, &request.allowed_domains)
        else {
            return; // already refused on the request's own field
        };
        if intersect_allowed(&outer, &playbook.allowed_domains).is_none() {
            self.push(
                format!("{prefix}guardrails.allowed_domains"),
                format!(
                    "none of these hosts is within the request's guardrails.allowed_domains \
                     ({}); a playbook's guardrails can only narrow the request's, so the run \
                     could reach no site: allow the playbook's hosts in the request",
                    outer.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    use super::super::errors_of as errors;

    fn playbook(request_allowed: &str, playbook_allowed: &str) -> String {
        format!(
            r#"{{"driver": {{"type": "playbook", "playbook": {{"id": "p", "name": "p",
                "start_url": "https://a.example/", "guardrails": {{"allowed_domains": {playbook_allowed}}},
                "steps": [{{"action": "screenshot"}}]}}}},
              "guardrails": {{"allowed_domains": {request_allowed}}}}}"#
        )
    }

    #[test]
    fn allow_lists_that_do_not_meet_are_refused_naming_the_field() {
        let config = Config::default();
        assert!(
            errors(
                &playbook(r#"["a.example"]"#, r#"["www.a.example"]"#),
                &config
            )
            .is_empty()
        );
        assert!(errors(&playbook("[]", r#"["b.example"]"#), &config).is_empty());
        assert!(errors(&playbook(r#"["a.example"]"#, "[]"), &config).is_empty());
        let errs = errors(&playbook(r#"["a.example"]"#, r#"["b.example"]"#), &config);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "driver.playbook.guardrails.allowed_domains");
        assert!(errs[0].message.contains("(a.example)"), "{errs:?}");

        let mut config = Config::default();
        config.guardrails.allowed_domains = vec!["corp.example".into()];
        assert!(errors(&playbook("[]", r#"["wiki.corp.example"]"#), &config).is_empty());
        let errs = errors(&playbook(r#"["a.example"]"#, "[]"), &config);
        assert_eq!(errs[0].field, "guardrails.allowed_domains", "{errs:?}");
        assert!(
            errs[0]
                .message
                .contains("[guardrails] allowed_domains (corp.example)")
        );
        let errs = errors(&playbook("[]", r#"["b.example"]"#), &config);
        assert_eq!(errs[0].field, "driver.playbook.guardrails.allowed_domains");
        assert!(errs[0].message.contains("(corp.example)"), "{errs:?}");
    }
}
