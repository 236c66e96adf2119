//! The `auto` driver's request: a directive in words that admission routes to a playbook from
//! the config's `playbooks.dir` (by tag, its parameters read from the directive) or to the
//! agent, as the reference's `hybrid_auto` does. The routing itself is `routing.rs` and
//! `admit/auto.rs`; the driver that runs the route is `auto.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AgentSpec, PlaybookSpec, ProfileSpec, ReasoningEffort, Secret};
use crate::run::RouteInfo;

/// Which paths an `auto` run may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// A matching playbook runs; the agent takes over when none matches or it fails.
    #[default]
    HybridAuto,
    /// Only a matching playbook; no match is a refusal naming the directive.
    PlaybookOnly,
    /// Only the agent, whatever the playbooks.
    AgentOnly,
}

impl ExecutionMode {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HybridAuto => "hybrid_auto",
            Self::PlaybookOnly => "playbook_only",
            Self::AgentOnly => "agent_only",
        }
    }
}

/// An `auto` run: the task in words, which paths it may take, parameter values that override
/// what the directive yields, and the model (unset fields: `[agent]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoSpec {
    /// The task, in words: matched against the playbooks' tags, read for their parameters,
    /// and given to the agent when it drives.
    pub directive: String,
    /// `hybrid_auto` (default), `playbook_only` or `agent_only`.
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    /// Parameter values for the matched playbook; they win over values read from the directive.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    /// The model name the endpoint expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Tool calls the agent gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// A JSON Schema the agent's final answer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// The API base (`…/v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The API key; never serialized, logged or sent anywhere but the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    /// As [`AgentSpec::vision`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<bool>,
    /// As [`AgentSpec::reasoning_effort`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// As [`AgentSpec::profile`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileSpec>,
    /// The path admission chose. Never read from or written to the wire: every admission
    /// (a shared store's claiming node too) routes the directive afresh.
    #[serde(skip)]
    pub(crate) route: Option<Box<Route>>,
}

impl AutoSpec {
    /// The agent this run's directive goes to, with the request's model settings.
    pub fn agent(&self) -> AgentSpec {
        AgentSpec {
            directive: self.directive.clone(),
            model: self.model.clone(),
            max_steps: self.max_steps,
            output_schema: self.output_schema.clone(),
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            vision: self.vision,
            reasoning_effort: self.reasoning_effort,
            profile: self.profile.clone(),
        }
    }
}

/// Where admission routed an `auto` run.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Route {
    /// A playbook (inlined, its parameters resolved); `fallback` takes over with the directive
    /// when it fails (`hybrid_auto` with a model configured).
    Playbook {
        spec: PlaybookSpec,
        fallback: Option<Box<AgentSpec>>,
        info: RouteInfo,
    },
    /// The agent, with the directive.
    Agent { spec: AgentSpec, info: RouteInfo },
}

impl Route {
    /// What the status says about the route.
    pub(crate) fn info(&self) -> &RouteInfo {
        match self {
            Self::Playbook { info, .. } | Self::Agent { info, .. } => info,
        }
    }
}
