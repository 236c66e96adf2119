//! The `[safety]` section: optional checks by a utility model, as in the reference — a
//! directive classifier that sets an agent run's `task_kind` (when the request leaves it
//! unset) and a validator of the clicks a model asks for. Off by default; each falls back to
//! the strict choice when the model cannot answer.

use serde::{Deserialize, Serialize};

use super::{AgentConfig, ConfigError};

/// Utility-model checks of agent runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyConfig {
    /// At submit, classify an agent run's directive into a task kind when the request sets
    /// none (the model unavailable: `read`), and scope its domains to the URLs the directive
    /// names when it names any and the request lists no `allowed_domains`.
    pub classify_directives: bool,
    /// Before a click a model asked for goes to the page, ask the utility model whether it is
    /// destructive (after the rule-based check passed); the model unavailable: refused.
    pub validate_clicks: bool,
    /// The utility model's API base; unset: `[agent] base_url`. The host's key goes to it only
    /// when `[agent]` trusts it (`base_url` or `allowed_base_urls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The utility model; unset: `[agent] model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Bound on one utility call, retries included.
    pub timeout_ms: u64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            classify_directives: false,
            validate_clicks: false,
            base_url: None,
            model: None,
            timeout_ms: 10_000,
        }
    }
}

impl SafetyConfig {
    /// Whether any check is on.
    pub fn enabled(&self) -> bool {
        self.classify_directives || self.validate_clicks
    }

    /// An enabled check needs a model and an endpoint, here or under `[agent]`.
    pub(super) fn check(&self, agent: &AgentConfig) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| {
            Err(ConfigError::Invalid {
                field,
                message: message.to_owned(),
            })
        };
        if !self.enabled() {
            return Ok(());
        }
        if self.base_url.is_none() && agent.base_url.is_none() {
            return invalid(
                "safety.base_url",
                "a safety check is on but no model endpoint is set; set [safety] base_url or \
                 [agent] base_url, or turn the checks off",
            );
        }
        if self.model.is_none() && agent.model.is_none() {
            return invalid(
                "safety.model",
                "a safety check is on but no model is named; set [safety] model or \
                 [agent] model, or turn the checks off",
            );
        }
        if self.timeout_ms == 0 {
            return invalid("safety.timeout_ms", "must be at least 1");
        }
        Ok(())
    }
}
