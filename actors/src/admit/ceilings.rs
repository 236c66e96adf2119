//! A request against the server's `[limits]`: its own limits, a step's own `timeout_ms`, an
//! agent's step budget, and the count and size of its credentials and labels. Each refusal
//! names the field and quotes the ceiling, so the user knows both what to lower and who to ask.

use std::collections::BTreeMap;

use super::Validator;
use crate::request::{Limits, RunRequest, Secret, clip};

/// `7200 exceeds the server's ceiling [limits] max_run_timeout_seconds = 3600`.
fn exceeds(value: impl std::fmt::Display, ceiling: &str, max: impl std::fmt::Display) -> String {
    format!("{value} exceeds the server's ceiling [limits] {ceiling} = {max}")
}

impl Validator<'_> {
    /// Guardrails that open private networks on a server that forbids it.
    pub(super) fn private_networks(&mut self, field: &str, allowed: bool) {
        if allowed && !self.floor.allow_private_networks {
            self.push(
                field,
                "this server does not let runs reach private networks \
                 ([guardrails] allow_private_networks = false); remove it",
            );
        }
    }

    /// A value that must be at least 1 and at most the ceiling `[limits] <ceiling>`.
    pub(super) fn bounded(&mut self, field: &str, value: Option<u64>, ceiling: &str, max: u64) {
        match value {
            Some(0) => self.push(field, "must be at least 1, got 0"),
            Some(v) if v > max => self.push(field, exceeds(v, ceiling, max)),
            _ => {}
        }
    }

    /// The request's `limits`, guardrails, `credentials` and `labels` against the server's
    /// `[limits]` and `[guardrails]`.
    pub(super) fn limits(&mut self, request: &RunRequest) {
        self.run_limits(&request.limits);
        self.private_networks(
            "guardrails.allow_private_networks",
            request.guardrails.allow_private_networks,
        );
        self.request_scope(&request.guardrails);
        self.credentials(&request.credentials);
        self.labels(&request.labels);
    }

    /// `limits.*` within their ceilings.
    fn run_limits(&mut self, limits: &Limits) {
        let c = self.ceilings;
        self.bounded(
            "limits.timeout_seconds",
            limits.timeout_seconds,
            "max_run_timeout_seconds",
            c.max_run_timeout_seconds,
        );
        self.bounded(
            "limits.max_steps",
            limits.max_steps.map(u64::from),
            "max_steps",
            c.max_steps.into(),
        );
        self.bounded(
            "limits.action_timeout_ms",
            limits.action_timeout_ms,
            "max_action_timeout_ms",
            c.max_action_timeout_ms,
        );
        self.bounded(
            "limits.navigation_timeout_ms",
            limits.navigation_timeout_ms,
            "max_navigation_timeout_ms",
            c.max_navigation_timeout_ms,
        );
    }

    /// How many credentials, and how large each value.
    fn credentials(&mut self, credentials: &BTreeMap<String, Secret>) {
        let c = self.ceilings;
        if credentials.len() > c.max_credentials {
            let n = credentials.len();
            self.push(
                "credentials",
                exceeds(
                    format!("{n} credentials"),
                    "max_credentials",
                    c.max_credentials,
                ),
            );
        }
        for (name, secret) in credentials {
            let bytes = secret.expose().len();
            if bytes > c.max_credential_bytes {
                self.push(
                    format!("credentials.{name}"),
                    exceeds(
                        format!("a value of {bytes} bytes"),
                        "max_credential_bytes",
                        c.max_credential_bytes,
                    ),
                );
            }
        }
    }

    /// How many labels, and how large each key and value.
    fn labels(&mut self, labels: &BTreeMap<String, String>) {
        let c = self.ceilings;
        if labels.len() > c.max_labels {
            let n = labels.len();
            self.push(
                "labels",
                exceeds(format!("{n} labels"), "max_labels", c.max_labels),
            );
        }
        for (key, value) in labels {
            for (what, len) in [("key", key.len()), ("value", value.len())] {
                if len > c.max_label_bytes {
                    self.push(
                        format!("labels.{}", clip(key, 64)),
                        exceeds(
                            format!("a {what} of {len} bytes"),
                            "max_label_bytes",
                            c.max_label_bytes,
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::request::FieldError;

    use super::super::errors_of as errors;

    fn script(extra: &str) -> String {
        format!(
            r#"{{"driver": {{"type": "script", "steps": [{{"action": "goto", "url": "https://example.com/"}}]}}{extra}}}"#
        )
    }

    fn message_of<'a>(errors: &'a [FieldError], field: &str) -> &'a str {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
            .unwrap_or_else(|| panic!("no error on {field}: {errors:?}"))
    }

    #[test]
    fn private_networks_are_refused_when_the_server_forbids_them() {
        let mut config = Config::default();
        let open = r#", "guardrails": {"allow_private_networks": true}"#;
        assert!(errors(&script(open), &config).is_empty());
        config.guardrails.allow_private_networks = false;
        let errs = errors(&script(open), &config);
        assert!(
            message_of(&errs, "guardrails.allow_private_networks")
                .contains("allow_private_networks = false"),
            "{errs:?}"
        );
        // A playbook's own guardrails cannot open them either.
        let playbook = r#"{"driver": {"type": "playbook", "playbook": {"id": "p", "name": "p",
            "start_url": "https://example.com/", "guardrails": {"allow_private_networks": true},
            "steps": [{"action": "screenshot"}]}}}"#;
        let errs = errors(playbook, &config);
        message_of(&errs, "driver.playbook.guardrails.allow_private_networks");
        assert!(errors(&script(""), &config).is_empty());
    }

    #[test]
    fn limits_past_a_ceiling_name_the_field_and_quote_the_ceiling() {
        let config = Config::default();
        let errs = errors(
            &script(
                r#", "limits": {"timeout_seconds": 7200, "max_steps": 5000,
                    "action_timeout_ms": 600001, "navigation_timeout_ms": 120001}"#,
            ),
            &config,
        );
        assert_eq!(
            errs.iter()
                .find(|e| e.field == "limits.timeout_seconds")
                .unwrap()
                .to_string(),
            "limits.timeout_seconds: 7200 exceeds the server's ceiling \
             [limits] max_run_timeout_seconds = 3600"
        );
        assert!(message_of(&errs, "limits.max_steps").ends_with("[limits] max_steps = 1000"));
        assert!(
            message_of(&errs, "limits.action_timeout_ms")
                .ends_with("[limits] max_action_timeout_ms = 600000")
        );
        assert!(
            message_of(&errs, "limits.navigation_timeout_ms")
                .ends_with("[limits] max_navigation_timeout_ms = 120000")
        );
        // At the ceiling is fine.
        let errs = errors(
            &script(r#", "limits": {"timeout_seconds": 3600, "navigation_timeout_ms": 120000}"#),
            &config,
        );
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn a_lowered_ceiling_applies_and_a_step_timeout_is_bounded() {
        let mut config = Config::default();
        config.limits.max_action_timeout_ms = 30_000;
        let json = r##"{"driver": {"type": "script", "steps": [
            {"action": "goto", "url": "https://example.com/"},
            {"action": "wait_for", "selector": "#x", "timeout_ms": 45000}]}}"##;
        let errs = errors(json, &config);
        assert_eq!(
            message_of(&errs, "driver.steps[1].timeout_ms"),
            "45000 exceeds the server's ceiling [limits] max_action_timeout_ms = 30000"
        );
    }

    #[test]
    fn an_agent_step_budget_is_bounded() {
        let json = r#"{"driver": {"type": "agent", "directive": "Read it.", "model": "m",
            "base_url": "https://model.example/v1", "api_key": "k", "max_steps": 5000}}"#;
        let errs = errors(json, &Config::default());
        assert_eq!(
            message_of(&errs, "driver.max_steps"),
            "5000 exceeds the server's ceiling [limits] max_steps = 1000"
        );
    }

    #[test]
    fn credentials_and_labels_are_counted_and_sized() {
        let mut config = Config::default();
        config.limits.max_credentials = 1;
        config.limits.max_labels = 1;
        let big = "x".repeat(5000);
        let long_key = "k".repeat(300);
        let extra = format!(
            r#", "credentials": {{"a": "{big}", "b": "ok"}},
               "labels": {{"team": "web", "{long_key}": "v"}}"#
        );
        let errs = errors(&script(&extra), &config);
        assert!(message_of(&errs, "credentials").contains("2 credentials exceeds"));
        assert_eq!(
            message_of(&errs, "credentials.a"),
            "a value of 5000 bytes exceeds the server's ceiling [limits] max_credential_bytes = 4096"
        );
        assert!(!errs.iter().any(|e| e.field == "credentials.b"), "{errs:?}");
        assert!(message_of(&errs, "labels").contains("2 labels exceeds"));
        let label = errs
            .iter()
            .find(|e| e.field.starts_with("labels.k"))
            .unwrap();
        assert!(label.message.starts_with("a key of 300 bytes"), "{label:?}");
        // The secret's value is in no message.
        assert!(!errs.iter().any(|e| e.to_string().contains(&big)));
    }
}
