//! Request validation: everything serde cannot check, each problem naming its field and fix.
//! The `Validator` collects every problem of one request; its checks against the server's
//! `[limits]` are in `ceilings.rs`, of allow-lists in `narrowing.rs`, of a playbook driver in
//! `playbook.rs`, of downloads in `downloads.rs`.

use std::collections::BTreeMap;

use crate::config::{AgentConfig, GuardrailFloor, LimitsConfig};
use crate::request::{
    Action, AgentSpec, FieldError, GuardrailSpec, InvalidRequest, RunRequest, Secret, Viewport,
    check_domain_pattern,
};
use crate::selector::Selector;

/// Collects the problems of one request.
pub(super) struct Validator<'a> {
    pub(super) errors: Vec<FieldError>,
    /// The request's `credentials`, by name.
    pub(super) credentials: &'a BTreeMap<String, Secret>,
    /// The server's `[limits]` (checked in `ceilings.rs`).
    pub(super) ceilings: &'a LimitsConfig,
    /// The server's `[guardrails]` floors (checked in `ceilings.rs` and `narrowing.rs`).
    pub(super) floor: &'a GuardrailFloor,
}

impl<'a> Validator<'a> {
    pub(super) fn new(
        credentials: &'a BTreeMap<String, Secret>,
        ceilings: &'a LimitsConfig,
        floor: &'a GuardrailFloor,
    ) -> Self {
        Self {
            errors: Vec::new(),
            credentials,
            ceilings,
            floor,
        }
    }

    /// The server's `[limits]`.
    pub(super) fn ceilings(&self) -> &'a LimitsConfig {
        self.ceilings
    }

    pub(super) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub(super) fn finish(self) -> Result<(), InvalidRequest> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidRequest {
                errors: self.errors,
            })
        }
    }

    pub(super) fn url(&mut self, field: &str, value: &str) {
        match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => self.push(
                field,
                format!(
                    "must be an http or https URL with a host, got scheme `{}`",
                    u.scheme()
                ),
            ),
            Err(e) => self.push(
                field,
                format!(
                    "is not a valid absolute URL ({e}); write it like https://example.com/path"
                ),
            ),
        }
    }

    /// An agent driver: a directive, a model and an endpoint (here or in the config), a usable
    /// step budget and a compilable output schema.
    pub(super) fn agent(&mut self, agent: &AgentSpec, config: &AgentConfig) {
        if agent.directive.trim().is_empty() {
            self.push(
                "driver.directive",
                "must not be empty; say what the agent should do",
            );
        }
        if agent
            .model
            .as_deref()
            .or(config.model.as_deref())
            .is_none_or(str::is_empty)
        {
            self.push(
                "driver.model",
                "no model named; set it here or `model` under [agent] in the config",
            );
        }
        match agent.base_url.as_deref().or(config.base_url.as_deref()) {
            None => self.push(
                "driver.base_url",
                "no model endpoint; set it here or `base_url` under [agent] in the config \
                 (e.g. https://api.openai.com/v1)",
            ),
            Some(url) => self.url("driver.base_url", url),
        }
        self.host_key("driver.base_url", agent, config);
        let max = self.ceilings.max_steps;
        self.bounded(
            "driver.max_steps",
            agent.max_steps.map(u64::from),
            "max_steps",
            max.into(),
        );
        if let Some(schema) = &agent.output_schema
            && let Err(e) = jsonschema::validator_for(schema)
        {
            self.push(
                "driver.output_schema",
                format!("is not a valid JSON Schema: {e}"),
            );
        }
    }

    /// A request that names its own model endpoint brings its own key, unless the server
    /// trusts that endpoint with its key (`[agent] base_url` or `allowed_base_urls`).
    pub(super) fn host_key(&mut self, field: &str, agent: &AgentSpec, config: &AgentConfig) {
        let Some(url) = agent.base_url.as_deref() else {
            return;
        };
        if agent.api_key.is_none() && !config.sends_host_key_to(url) {
            self.push(
                field,
                format!(
                    "`{url}` is not the server's model endpoint, so the server's key is not sent \
                     there: bring your own `api_key` for this endpoint, or add it to [agent] \
                     allowed_base_urls"
                ),
            );
        }
    }

    pub(super) fn url_if_set(&mut self, field: &str, value: Option<&str>) {
        if let Some(url) = value {
            self.url(field, url);
        }
    }

    /// A selector in one of the accepted forms (see `selector.rs`), at most 2000 bytes.
    pub(super) fn selector(&mut self, field: String, value: &str) {
        if value.trim().is_empty() {
            self.push(
                field,
                format!("must not be empty; {}", crate::selector::ACCEPTED_FORMS),
            );
        } else if value.len() > 2000 {
            self.push(field, "is longer than 2000 characters");
        } else if let Err(e) = Selector::parse(value) {
            self.push(field, e.to_string());
        }
    }

    pub(super) fn store_as(&mut self, field: String, value: &Option<String>) {
        if let Some(name) = value {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            if !ok {
                self.push(
                    field,
                    "must be 1-64 characters of letters, digits, `_`, `-` or `.`",
                );
            }
        }
    }

    /// A script driver: at least one action, no more than `max_steps`, each valid and allowed
    /// for the request's task kind.
    pub(super) fn script(&mut self, request: &RunRequest, steps: &[Action], max_steps: u32) {
        let start_url = request.start_url.is_some();
        if steps.is_empty() && !start_url {
            self.push("driver.steps", "must list at least one action");
        }
        let max = max_steps as usize;
        if steps.len() + usize::from(start_url) > max {
            self.push(
                "driver.steps",
                format!(
                    "has {} actions (plus start_url) but limits.max_steps is {max}; \
                     raise limits.max_steps or shorten the script",
                    steps.len()
                ),
            );
        }
        let kind = request.guardrails.kind();
        for (i, step) in steps.iter().enumerate() {
            self.action(&format!("driver.steps[{i}]"), step, false);
            if !kind.allows(step) {
                self.push(
                    format!("driver.steps[{i}].action"),
                    format!(
                        "`{}` is not allowed for {} tasks; set guardrails.task_kind to interact",
                        step.name(),
                        kind.as_str()
                    ),
                );
            }
        }
    }

    /// Every `allowed_domains` and `blocked_domains` entry is a host name or glob.
    pub(super) fn domain_patterns(&mut self, guardrails: &GuardrailSpec) {
        for (i, domain) in guardrails.allowed_domains.iter().enumerate() {
            if let Err(msg) = check_domain_pattern(domain) {
                self.push(format!("guardrails.allowed_domains[{i}]"), msg);
            }
        }
        for (i, glob) in guardrails.blocked_domains.iter().flatten().enumerate() {
            if let Err(msg) = check_domain_pattern(glob) {
                self.push(format!("guardrails.blocked_domains[{i}]"), msg);
            }
        }
    }

    pub(super) fn viewport(&mut self, Viewport { width, height }: Viewport) {
        if !(100..=7680).contains(&width) {
            self.push("viewport.width", "must be between 100 and 7680");
        }
        if !(100..=4320).contains(&height) {
            self.push("viewport.height", "must be between 100 and 4320");
        }
    }

    /// One action at `at` (`nested`: a step of a sequence).
    pub(super) fn action(&mut self, at: &str, action: &Action, nested: bool) {
        match action {
            Action::Goto { url } => self.url(&format!("{at}.url"), url),
            Action::Click { selector } | Action::Hover { selector } => {
                self.selector(format!("{at}.selector"), selector)
            }
            Action::Type {
                selector,
                text,
                credential_ref,
            } => self.type_action(at, selector, text, credential_ref),
            Action::PressKey { key } => self.key(at, key),
            Action::Scroll {
                amount, selector, ..
            } => {
                self.selector_if_set(at, selector);
                if amount.is_some_and(|a| !(1..=100).contains(&a)) {
                    self.push(format!("{at}.amount"), "must be between 1 and 100");
                }
            }
            Action::Select {
                selector,
                value,
                label,
            } => {
                self.selector(format!("{at}.selector"), selector);
                if value.is_some() == label.is_some() {
                    self.push(at, "give exactly one of `value` or `label`");
                }
            }
            Action::WaitFor {
                selector,
                timeout_ms,
                ..
            } => self.wait_for(at, selector, *timeout_ms),
            Action::Extract {
                selector, store_as, ..
            } => {
                self.selector_if_set(at, selector);
                self.store_as(format!("{at}.store_as"), store_as);
            }
            Action::Evaluate { script, store_as } => {
                if script.trim().is_empty() {
                    self.push(format!("{at}.script"), "must not be empty");
                }
                self.store_as(format!("{at}.store_as"), store_as);
            }
            Action::Observe { store_as } => self.store_as(format!("{at}.store_as"), store_as),
            Action::Screenshot { .. } => {}
            Action::ApiRequest { request, store_as } => self.api_request(at, request, store_as),
            Action::LlmExtract {
                prompt,
                schema,
                store_as,
            } => self.llm_extract(at, prompt, schema.as_ref(), store_as),
            Action::Sequence { steps } => self.sequence(at, steps, nested),
        }
    }

    /// `type`: its selector, and exactly one of `text` or a known `credential_ref`.
    fn type_action(
        &mut self,
        at: &str,
        selector: &Option<String>,
        text: &Option<String>,
        credential_ref: &Option<String>,
    ) {
        self.selector_if_set(at, selector);
        match (text, credential_ref) {
            (Some(_), Some(_)) => self.push(at, "give either `text` or `credential_ref`, not both"),
            (None, None) => self.push(at, "needs `text` or `credential_ref`"),
            (None, Some(name)) if !self.credentials.contains_key(name) => self.push(
                format!("{at}.credential_ref"),
                format!("no credential named `{name}`; add it to the request's `credentials`"),
            ),
            _ => {}
        }
    }

    /// `wait_for`: its selector, and its own bound within the ceiling.
    fn wait_for(&mut self, at: &str, selector: &str, timeout_ms: Option<u64>) {
        self.selector(format!("{at}.selector"), selector);
        let max = self.ceilings.max_action_timeout_ms;
        self.bounded(
            &format!("{at}.timeout_ms"),
            timeout_ms,
            "max_action_timeout_ms",
            max,
        );
    }

    /// `press_key`: a key Chromium knows.
    fn key(&mut self, at: &str, key: &str) {
        if chromiumoxide::keys::get_key_definition(key).is_none() {
            self.push(
                format!("{at}.key"),
                format!(
                    "unknown key `{key}`; use a KeyboardEvent.key name such as Enter, Tab or a"
                ),
            );
        }
    }

    fn selector_if_set(&mut self, at: &str, selector: &Option<String>) {
        if let Some(s) = selector {
            self.selector(format!("{at}.selector"), s);
        }
    }

    /// A sequence: not nested, not empty, each step valid.
    fn sequence(&mut self, at: &str, steps: &[Action], nested: bool) {
        if nested {
            self.push(at, "a sequence cannot contain another sequence");
            return;
        }
        if steps.is_empty() {
            self.push(format!("{at}.steps"), "must list at least one action");
        }
        for (i, step) in steps.iter().enumerate() {
            self.action(&format!("{at}.steps[{i}]"), step, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::request::RunRequest;

    fn errors(json: &str, config: &Config) -> Vec<String> {
        let request = RunRequest::from_json(json).unwrap();
        match request.validate(config) {
            Ok(()) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_foreign_endpoint_without_its_own_key_is_refused() {
        let mut config = Config::default();
        config.agent.base_url = Some("https://api.openai.com/v1".into());
        config.agent.model = Some("m".into());
        let agent = |extra: &str| {
            format!(
                r#"{{"start_url": "https://example.com/", "driver": {{"type": "agent",
                    "directive": "Read it."{extra}}}}}"#
            )
        };
        let errs = errors(&agent(r#", "base_url": "https://evil.test/v1""#), &config);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("driver.base_url: `https://evil.test/v1` is not the server's")
                && errs[0].contains("bring your own `api_key` for this endpoint, or add it to [agent] allowed_base_urls"),
            "{errs:?}"
        );
        let own_key = r#", "base_url": "https://evil.test/v1", "api_key": "theirs""#;
        assert!(errors(&agent(own_key), &config).is_empty());
        let configured = r#", "base_url": "HTTPS://api.openai.com/v1/""#;
        assert!(errors(&agent(configured), &config).is_empty());
        assert!(errors(&agent(""), &config).is_empty());
        config.agent.allowed_base_urls = vec!["https://evil.test/v1".into()];
        assert!(errors(&agent(r#", "base_url": "https://evil.test/v1""#), &config).is_empty());
    }

    #[test]
    fn a_playbook_hand_off_brings_its_own_key_and_its_waits_fit_the_ceiling() {
        let json = r##"{"driver": {"type": "playbook",
            "playbook": {"id": "p", "start_url": "https://example.com/",
                         "steps": [{"action": "click", "selector": "#go"}]},
            "agent": {"directive": "", "model": "m", "base_url": "https://evil.test/v1"}}}"##;
        let errs = errors(json, &Config::default());
        assert!(
            errs.iter().any(
                |e| e.starts_with("driver.agent.base_url: `https://evil.test/v1`")
                    && e.contains("bring your own `api_key`")
            ),
            "{errs:?}"
        );
        let slow = json.replace(
            r##""selector": "#go"}"##,
            r##""selector": "#go"}, {"action": "wait_for", "selector": "#x", "timeout_ms": 700000}"##,
        );
        let errs = errors(&slow, &Config::default());
        assert!(
            errs.iter().any(|e| e.ends_with(
                "steps[1].timeout_ms: 700000 exceeds the server's ceiling \
                 [limits] max_action_timeout_ms = 600000"
            )),
            "{errs:?}"
        );
        let with_key = json.replace(r#""model": "m","#, r#""model": "m", "api_key": "k","#);
        let errs = errors(&with_key, &Config::default());
        assert!(
            !errs.iter().any(|e| e.starts_with("driver.agent.base_url")),
            "{errs:?}"
        );
    }
}
