//! Optional safety models (`[safety]`), as in the reference: a utility model classifies an
//! agent run's directive at submit (`safety/classify.rs`) and judges the clicks a model asks
//! for (`safety/clicks.rs`). Either falls back to the strict choice when its model cannot
//! answer — the run is scoped to `read`, the click is refused — and counts
//! `pilothouse_safety_degraded_total{component}`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::Config;
use crate::llm::{Endpoint, SharedLlm};
use crate::request::AgentSpec;
use crate::run::TokenUsage;

mod classify;
mod clicks;

pub(crate) use classify::Classifier;
pub(crate) use clicks::ClickValidator;

/// The `[safety]` utility model.
#[derive(Clone)]
pub(crate) struct UtilityModel {
    endpoint: Endpoint,
    llm: SharedLlm,
    timeout: Duration,
}

impl UtilityModel {
    /// The model `[safety]` names (else `[agent]`'s); `None` when there is no endpoint or no
    /// model (config validation refuses that while a check is on).
    pub(crate) fn from_config(config: &Config, llm: SharedLlm) -> Option<Self> {
        let spec = AgentSpec {
            base_url: config.safety.base_url.clone(),
            model: config.safety.model.clone(),
            ..AgentSpec::default()
        };
        let warn = |warning: String| tracing::warn!("[safety] {warning}");
        let endpoint = crate::llm::endpoint_for(&spec, &config.agent, warn).ok()?;
        Some(Self {
            endpoint,
            llm,
            timeout: Duration::from_millis(config.safety.timeout_ms),
        })
    }

    /// One call answered through `tool` (a function whose parameters are the answer's
    /// shape): the answer and what the call spent, or why there is none.
    async fn ask(
        &self,
        system: &str,
        user: &str,
        tool: Value,
    ) -> Result<(Value, TokenUsage), String> {
        let messages = [
            json!({"role": "system", "content": system}),
            json!({"role": "user", "content": user}),
        ];
        let call = self
            .llm
            .complete(&self.endpoint, &messages, std::slice::from_ref(&tool));
        let reply = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
            .map_err(|e| e.to_string())?;
        let text = match (reply.tool_calls.first(), &reply.content) {
            (Some(call), _) => call.arguments.clone(),
            (None, Some(content)) => content.clone(),
            (None, None) => return Err("the reply has neither a tool call nor content".into()),
        };
        let answer = serde_json::from_str(text.trim()).map_err(|e| {
            format!(
                "unreadable answer ({e}): {}",
                crate::request::clip(&text, 200)
            )
        })?;
        Ok((answer, reply.usage))
    }
}

/// A check that could not ask its model: counted and logged; the caller takes the strict
/// choice.
fn degraded(component: &'static str, why: &str) {
    metrics::counter!("pilothouse_safety_degraded_total", "component" => component).increment(1);
    tracing::warn!(
        component,
        error = why,
        "safety model unavailable; taking the strict choice"
    );
}

/// A function tool for an answer of the given JSON Schema `parameters`.
fn answer_tool(name: &str, description: &str, parameters: Value) -> Value {
    json!({"type": "function", "function": {
        "name": name, "description": description, "parameters": parameters}})
}
