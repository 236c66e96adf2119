//! A playbook driver's request: its playbook loaded (once: admission inlines this very copy)
//! and valid, its parameters satisfying it, its steps' waits and credentials within what the
//! request and the server allow, its guardrails only narrowing the request's.

use super::Validator;
use crate::config::Config;
use crate::request::{AuthMode, GuardrailSpec, Playbook, PlaybookSpec};

impl Validator<'_> {
    /// A playbook driver: the playbook loads and is valid, the parameters satisfy it, its
    /// credentials exist, a hand-off endpoint of its own brings its own key, and its own
    /// guardrails meet the `request`'s (they only narrow them).
    pub(super) fn playbook(
        &mut self,
        spec: &PlaybookSpec,
        config: &Config,
        request: &GuardrailSpec,
    ) -> Option<Playbook> {
        if let Some(agent) = &spec.agent {
            self.url_if_set("driver.agent.base_url", agent.base_url.as_deref());
            self.host_key("driver.agent.base_url", agent, &config.agent);
        }
        let playbook = match spec.load(config) {
            Ok(playbook) => playbook,
            Err(e) => {
                self.errors.push(e);
                return None;
            }
        };
        let prefix = match &spec.playbook {
            serde_json::Value::String(id) if !id.contains('\n') => format!("playbook {id}: "),
            _ => "driver.playbook.".to_owned(),
        };
        self.loaded_playbook(&prefix, spec, &playbook, request);
        Some(playbook)
    }

    /// A loaded playbook's problems, each under `prefix`: its own, its guardrails against the
    /// `request`'s, its parameters against `spec`'s, its steps' waits and credentials.
    pub(super) fn loaded_playbook(
        &mut self,
        prefix: &str,
        spec: &PlaybookSpec,
        playbook: &Playbook,
        request: &GuardrailSpec,
    ) {
        for problem in playbook.problems() {
            self.push(format!("{prefix}{}", problem.field), problem.message);
        }
        // A playbook's guardrails only narrow the request's, and answer to the same floors.
        if let Some(guardrails) = &playbook.guardrails {
            self.private_networks(
                &format!("{prefix}guardrails.allow_private_networks"),
                guardrails.allow_private_networks,
            );
            self.playbook_scope(prefix, &guardrails.spec(), request);
        }
        if let Err(errors) = playbook.resolve_params(&spec.params) {
            self.errors.extend(errors);
        }
        self.playbook_steps(prefix, playbook);
        self.playbook_login(prefix, playbook);
    }

    /// A `form_login` block signs in with the request's `username` (or `email`) and
    /// `password` credentials: they must be there.
    fn playbook_login(&mut self, prefix: &str, playbook: &Playbook) {
        let form_login = playbook
            .auth
            .as_ref()
            .is_some_and(|a| a.mode == AuthMode::FormLogin);
        if !form_login {
            return;
        }
        let has = |name: &str| self.credentials.contains_key(name);
        let mut missing = Vec::new();
        if !has("username") && !has("email") {
            missing.push("`username` (or `email`)");
        }
        if !has("password") {
            missing.push("`password`");
        }
        if !missing.is_empty() {
            self.push(
                format!("{prefix}auth"),
                format!(
                    "mode form_login signs in with the request's credentials; add {} to                      `credentials`",
                    missing.join(" and ")
                ),
            );
        }
    }

    /// A playbook's steps: their own waits within the ceiling, their credentials present.
    fn playbook_steps(&mut self, prefix: &str, playbook: &Playbook) {
        for (i, step) in playbook.steps.iter().enumerate() {
            let own_timeout = step.params.get("timeout_ms").and_then(|v| v.as_u64());
            let max = self.ceilings.max_action_timeout_ms;
            if let Some(ms) = own_timeout.filter(|ms| *ms > max) {
                self.bounded(
                    &format!("{prefix}steps[{i}].timeout_ms"),
                    Some(ms),
                    "max_action_timeout_ms",
                    max,
                );
            }
            let credential = step.params.get("credential_ref").and_then(|v| v.as_str());
            if let Some(name) = credential
                && !self.credentials.contains_key(name)
            {
                self.push(
                    format!("{prefix}steps[{i}].credential_ref"),
                    format!("no credential named `{name}`; add it to the request's `credentials`"),
                );
            }
        }
    }
}
