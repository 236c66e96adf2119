//! Agent profiles and model options, as plain data. A profile is the reference's file format:
//! `name`, `description`, `prompt_extension` (added to the agent's system prompt) and
//! `guardrail_overrides` (the reference's guardrail keys; here they only ever narrow the
//! request's). A request names a profile (a file under `[agent] profiles_dir`) or gives one
//! inline; admission loads a named one once and inlines it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{GuardrailSpec, TaskKind};

/// A request's `profile`: a name, or the profile itself (what admission makes of a name).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ProfileSpec {
    /// `<profiles_dir>/<name>.yaml`.
    Named(String),
    /// The profile itself.
    Inline(Box<Profile>),
}

impl<'de> Deserialize<'de> for ProfileSpec {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        match Value::deserialize(de)? {
            Value::String(name) => Ok(Self::Named(name)),
            value @ Value::Object(_) => serde_json::from_value(value)
                .map(|p| Self::Inline(Box::new(p)))
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected a profile name or {{name, description, prompt_extension, \
                 guardrail_overrides}}, got {other}"
            ))),
        }
    }
}

/// One profile, in the reference's format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Its name (a file's stem when it comes from `[agent] profiles_dir`).
    #[serde(default)]
    pub name: String,
    /// What it is for; shown by `pilothouse validate`, never sent to the model.
    #[serde(default)]
    pub description: String,
    /// Added to the agent's system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_extension: Option<String>,
    /// The reference's guardrail keys; they narrow the request's guardrails, never widen them.
    #[serde(default)]
    pub guardrail_overrides: GuardrailOverrides,
}

/// A profile's `guardrail_overrides`: only the keys it sets apply, and each only narrows (a
/// profile asking for more URLs or private networks than the request allows gets the
/// request's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Hosts the run may visit (intersected with the request's).
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Hosts the run may never visit (added to the request's).
    pub blocked_domains: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Private networks; only when the request allows them too.
    pub allow_private_networks: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Distinct pages; at most the request's.
    pub max_urls_visited: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Failed actions in a row; at most the request's.
    pub max_consecutive_errors: Option<u32>,
    /// The reference's model check of each action; recorded (every action passes the
    /// rule-based guard either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_llm_action_check: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// What the run is for; the stricter of this and the request's applies.
    pub task_kind: Option<TaskKind>,
}

impl GuardrailOverrides {
    /// `request`'s guardrails with the keys set here put in; narrowing the request's by this
    /// keeps what both allow.
    pub fn applied_to(&self, request: &GuardrailSpec) -> GuardrailSpec {
        let mut spec = request.clone();
        if let Some(allowed) = &self.allowed_domains {
            spec.allowed_domains = allowed.clone();
        }
        if let Some(blocked) = &self.blocked_domains {
            spec.blocked_domains = Some(blocked.clone());
        }
        if let Some(private) = self.allow_private_networks {
            spec.allow_private_networks = private;
        }
        spec.max_urls_visited = self.max_urls_visited.or(spec.max_urls_visited);
        spec.max_consecutive_errors = self.max_consecutive_errors.or(spec.max_consecutive_errors);
        if let Some(kind) = self.task_kind {
            spec.task_kind = Some(kind);
        }
        spec
    }
}

/// How hard a reasoning model thinks: sent as `reasoning_effort` to endpoints that take it
/// (the reference's `thinking` levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    /// No reasoning, where the model allows it.
    None,
    /// The least reasoning.
    Minimal,
    /// Little reasoning.
    Low,
    /// The usual default.
    Medium,
    /// More reasoning (the reference's default).
    High,
    /// The most reasoning.
    Xhigh,
}

impl ReasoningEffort {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minimal => "minimal",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Xhigh => "xhigh",
        }
    }
}

/// Whether `name` may name a profile file: letters, digits, `-` and `_` only (no path).
pub(crate) fn is_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
