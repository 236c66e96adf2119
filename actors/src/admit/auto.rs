//! An `auto` driver's request routed: `agent_only` goes to the agent; otherwise the directive
//! is matched against the playbooks in `playbooks.dir` (`routing.rs`) and the playbook that
//! wins runs with the parameters the directive gives (the request's `params` win over them).
//! `hybrid_auto` sends a directive no playbook matches — or whose playbook lacks a parameter
//! the directive does not give — to the agent, and keeps the agent behind a playbook that
//! fails; `playbook_only` refuses them, naming the directive and the playbooks' tags.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Validator;
use crate::config::Config;
use crate::request::{
    AgentSpec, AutoSpec, ExecutionMode, GuardrailSpec, Playbook, PlaybookSpec, Route,
};
use crate::routing::{self, Match};
use crate::run::RouteInfo;

impl Validator<'_> {
    /// The route of an `auto` driver and, when it is a playbook, that playbook (validated, to
    /// be inlined); `None` when the request is refused.
    pub(super) fn auto(
        &mut self,
        spec: &AutoSpec,
        config: &Config,
        request: &GuardrailSpec,
    ) -> Option<(Route, Option<Playbook>)> {
        if spec.agent.directive.trim().is_empty() {
            self.push("driver.directive", "must not be empty; say what to do");
            return None;
        }
        if spec.execution_mode == ExecutionMode::AgentOnly {
            return self.agent_route(spec, config, "execution_mode is agent_only".into());
        }
        let candidates = routing::candidates(&config.playbooks.dir);
        let known = tag_list(&candidates);
        let Some(found) = routing::best_match(&spec.agent.directive, candidates) else {
            let why = format!(
                "no playbook in {} has a tag the directive contains (tags: {known})",
                config.playbooks.dir.display()
            );
            return self.no_playbook(spec, config, why);
        };
        let extracted = routing::extract_params(&spec.agent.directive, &found.playbook.parameters);
        let mut params = extracted.clone();
        params.extend(spec.params.clone());
        if let Err(errors) = found.playbook.resolve_params(&params) {
            let missing: Vec<String> = errors.iter().map(ToString::to_string).collect();
            let why = format!(
                "playbook `{}` matched, but the directive does not give what it needs ({}); \
                 put the values in the directive (`name: value`) or in `driver.params`",
                found.playbook.id,
                missing.join("; ")
            );
            return self.no_playbook(spec, config, why);
        }
        Some(self.playbook_route(spec, config, request, found, params, extracted))
    }

    /// `hybrid_auto`: the agent takes the directive; `playbook_only`: refused with `why`.
    fn no_playbook(
        &mut self,
        spec: &AutoSpec,
        config: &Config,
        why: String,
    ) -> Option<(Route, Option<Playbook>)> {
        if spec.execution_mode == ExecutionMode::PlaybookOnly {
            self.push(
                "driver.directive",
                format!("{why}; with execution_mode playbook_only the run cannot start"),
            );
            return None;
        }
        self.agent_route(spec, config, why)
    }

    fn agent_route(
        &mut self,
        spec: &AutoSpec,
        config: &Config,
        reason: String,
    ) -> Option<(Route, Option<Playbook>)> {
        let agent = spec.agent.clone();
        self.agent(&agent, &config.agent);
        let info = info(spec, "agent", None, reason);
        Some((Route::Agent { spec: agent, info }, None))
    }

    fn playbook_route(
        &mut self,
        spec: &AutoSpec,
        config: &Config,
        request: &GuardrailSpec,
        found: Match,
        params: BTreeMap<String, Value>,
        extracted: BTreeMap<String, Value>,
    ) -> (Route, Option<Playbook>) {
        let Match { playbook, tags } = found;
        let hybrid = spec.execution_mode == ExecutionMode::HybridAuto;
        let fallback = hybrid
            .then(|| spec.agent.clone())
            .filter(|a| has_model(a, config));
        if let Some(agent) = &fallback {
            self.agent(agent, &config.agent);
        }
        let playbook_spec = PlaybookSpec {
            playbook: Value::String(playbook.id.clone()),
            params,
            agent: hybrid.then(|| spec.agent.clone()),
        };
        let prefix = format!("playbook {}: ", playbook.id);
        self.loaded_playbook(&prefix, &playbook_spec, &playbook, request);
        let reason = format!("tags {} are in the directive", quoted(&tags));
        let mut info = info(spec, "playbook", Some(playbook.id.clone()), reason);
        info.matched_tags = tags;
        info.extracted = extracted.into_keys().collect();
        let route = Route::Playbook {
            spec: playbook_spec,
            fallback: fallback.map(Box::new),
            info,
        };
        (route, Some(playbook))
    }
}

/// Whether a model endpoint and model are set, by the request or `[agent]`.
fn has_model(agent: &AgentSpec, config: &Config) -> bool {
    (agent.base_url.is_some() || config.agent.base_url.is_some())
        && (agent.model.is_some() || config.agent.model.is_some())
}

fn info(spec: &AutoSpec, path: &str, playbook: Option<String>, reason: String) -> RouteInfo {
    RouteInfo {
        mode: spec.execution_mode.as_str().into(),
        path: path.into(),
        playbook,
        matched_tags: Vec::new(),
        extracted: Vec::new(),
        reason,
        handed_off: None,
    }
}

fn quoted(tags: &[String]) -> String {
    tags.iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every playbook's tags, for a refusal that says what would have matched.
fn tag_list(playbooks: &[Playbook]) -> String {
    let listed: Vec<String> = playbooks
        .iter()
        .filter(|p| !p.tags.is_empty())
        .map(|p| format!("{}: {}", p.id, quoted(&p.tags)))
        .collect();
    if listed.is_empty() {
        "none".into()
    } else {
        listed.join("; ")
    }
}
