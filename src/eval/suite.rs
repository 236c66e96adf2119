//! An evaluation suite file, as the reference system writes it: `name` and `cases`, each with
//! `id, directive, start_url, playbook, playbook_params, execution_mode, trials, credentials,
//! max_steps, output_schema`, token prices, `metadata`, `benchmark_tags`, `profile`,
//! `thinking`, `allow_private_networks` and `expect`. Unknown keys are refused by name, so a
//! misspelt expectation cannot pass silently.

use std::collections::BTreeMap;

use pilothouse::ExecutionMode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A suite: cases run in order.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Suite {
    #[serde(default = "default_name")]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) cases: Vec<Case>,
}

fn default_name() -> String {
    "local-eval".into()
}

/// One scenario, run `trials` times.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    pub(crate) id: String,
    pub(crate) directive: String,
    /// A named profile (`[agent] profiles_dir`) for the agent: its prompt extension is added
    /// and its guardrail overrides narrow the case's.
    #[serde(default)]
    pub(crate) profile: Option<String>,
    /// A playbook id from `[playbooks] dir`.
    #[serde(default)]
    pub(crate) playbook: Option<String>,
    #[serde(default)]
    pub(crate) execution_mode: ExecutionMode,
    #[serde(default = "one")]
    pub(crate) trials: u32,
    #[serde(default)]
    pub(crate) benchmark_tags: Vec<String>,
    #[serde(default)]
    pub(crate) playbook_params: BTreeMap<String, Value>,
    /// `{name: value}`, or the reference's `{service: {key: value}}` (named `service_key`); a
    /// value `env:VAR` is read from the environment, so a suite file need not hold secrets.
    #[serde(default)]
    pub(crate) credentials: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub(crate) allow_private_networks: bool,
    #[serde(default)]
    pub(crate) start_url: Option<String>,
    #[serde(default)]
    pub(crate) max_steps: Option<u32>,
    /// The reference's reasoning effort (`none`, `minimal` … `xhigh`), sent to the model as
    /// `reasoning_effort`.
    #[serde(default)]
    pub(crate) thinking: Option<String>,
    #[serde(default)]
    pub(crate) output_schema: Option<Value>,
    #[serde(default)]
    pub(crate) input_token_cost_per_million_usd: Option<f64>,
    #[serde(default)]
    pub(crate) output_token_cost_per_million_usd: Option<f64>,
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, Value>,
    #[serde(default)]
    pub(crate) expect: Expect,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// What a trial must show to pass. Text checks ignore case and need every needle.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    #[serde(default = "yes")]
    pub(crate) must_succeed: bool,
    #[serde(default)]
    pub(crate) summary_contains: Vec<String>,
    #[serde(default)]
    pub(crate) error_contains: Vec<String>,
    #[serde(default)]
    pub(crate) extracted_text_contains: Vec<String>,
    /// Dotted paths into the result's data (`details.title`).
    #[serde(default)]
    pub(crate) required_data_keys: Vec<String>,
    /// Dotted path → text its value must contain.
    #[serde(default)]
    pub(crate) data_values_contain: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) max_duration_ms: Option<u64>,
    #[serde(default)]
    pub(crate) max_actions: Option<u64>,
    #[serde(default)]
    pub(crate) min_actions: Option<u64>,
    #[serde(default)]
    pub(crate) max_input_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) max_output_tokens: Option<u64>,
    #[serde(default)]
    pub(crate) handoff: Handoff,
    #[serde(default)]
    pub(crate) max_estimated_cost_usd: Option<f64>,
    /// Share of trials that must pass (0–1); unset: all of them.
    #[serde(default)]
    pub(crate) min_trial_pass_rate: Option<f64>,
    #[serde(default)]
    pub(crate) max_p95_duration_ms: Option<u64>,
}

impl Default for Expect {
    fn default() -> Self {
        serde_json::from_value(serde_json::json!({})).expect("every field has a default")
    }
}

/// Whether a playbook may, must or must not hand the run to the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Handoff {
    #[default]
    Allow,
    Require,
    Forbid,
}

impl Suite {
    /// Parses a suite file (YAML); errors name the field path and the line.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let suite: Self = pilothouse::parse_yaml_value(text)?;
        let mut problems = Vec::new();
        for (i, case) in suite.cases.iter().enumerate() {
            if case.trials == 0 {
                problems.push(format!("cases[{i}].trials: must be at least 1"));
            }
            if let Some(rate) = case.expect.min_trial_pass_rate
                && !(0.0..=1.0).contains(&rate)
            {
                problems.push(format!(
                    "cases[{i}].expect.min_trial_pass_rate: {rate} is not between 0 and 1"
                ));
            }
            if suite.cases[..i].iter().any(|c| c.id == case.id) {
                problems.push(format!("cases[{i}].id: `{}` is used twice", case.id));
            }
        }
        if problems.is_empty() {
            Ok(suite)
        } else {
            Err(problems.join("\n"))
        }
    }
}
