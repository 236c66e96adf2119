//! The `auto` driver's request: a directive in words that admission routes to a playbook from
//! the config's `playbooks.dir` (by tag, its parameters read from the directive) or to the
//! agent, as the reference's `hybrid_auto` does. The routing itself is `routing.rs` and
//! `admit/auto.rs`; the driver that runs the route is `auto.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AgentSpec, PlaybookSpec};
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

/// An `auto` run: the task in words and the model (an agent driver's fields; unset ones:
/// `[agent]`), which paths it may take, and parameter values that override what the directive
/// yields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoSpec {
    /// The directive (matched against the playbooks' tags, read for their parameters, and
    /// given to the agent when it drives) and the model settings the agent runs with.
    #[serde(flatten)]
    pub agent: AgentSpec,
    /// `hybrid_auto` (default), `playbook_only` or `agent_only`.
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    /// Parameter values for the matched playbook; they win over values read from the directive.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Value>,
    /// The path admission chose. Never read from or written to the wire: every admission
    /// (a shared store's claiming node too) routes the directive afresh.
    #[serde(skip)]
    pub(crate) route: Option<Box<Route>>,
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
