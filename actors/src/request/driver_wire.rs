//! The wire form of a request's `driver`: every driver's fields, checked against its `type`.

use serde::Deserialize;

use super::*;

/// The wire form of [`DriverSpec`]: every driver's fields, checked against the `type`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDriverSpec {
    #[serde(rename = "type")]
    kind: DriverType,
    #[serde(default)]
    steps: Option<Vec<Action>>,
    #[serde(default)]
    directive: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    max_steps: Option<u32>,
    #[serde(default)]
    output_schema: Option<serde_json::Value>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    api_key: Option<Secret>,
    #[serde(default)]
    playbook: Option<serde_json::Value>,
    #[serde(default)]
    params: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    agent: Option<AgentSpec>,
    #[serde(default)]
    execution_mode: Option<ExecutionMode>,
    #[serde(default)]
    vision: Option<bool>,
    #[serde(default)]
    reasoning_effort: Option<ReasoningEffort>,
    #[serde(default)]
    profile: Option<ProfileSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum DriverType {
    Script,
    Agent,
    Playbook,
    Auto,
}

impl RawDriverSpec {
    /// The first field set that `type` does not take.
    fn stray(&self, allowed: &[&str]) -> Option<&'static str> {
        let set = [
            ("steps", self.steps.is_some()),
            ("directive", self.directive.is_some()),
            ("model", self.model.is_some()),
            ("max_steps", self.max_steps.is_some()),
            ("output_schema", self.output_schema.is_some()),
            ("base_url", self.base_url.is_some()),
            ("api_key", self.api_key.is_some()),
            ("playbook", self.playbook.is_some()),
            ("params", self.params.is_some()),
            ("agent", self.agent.is_some()),
            ("execution_mode", self.execution_mode.is_some()),
            ("vision", self.vision.is_some()),
            ("reasoning_effort", self.reasoning_effort.is_some()),
            ("profile", self.profile.is_some()),
        ];
        set.into_iter()
            .find(|(name, is_set)| *is_set && !allowed.contains(name))
            .map(|(name, _)| name)
    }
}

/// The fields a model driver takes.
const MODEL_FIELDS: [&str; 8] = [
    "model",
    "max_steps",
    "output_schema",
    "base_url",
    "api_key",
    "vision",
    "reasoning_effort",
    "profile",
];

impl DriverType {
    /// Its name, and the fields it takes besides `type`.
    fn fields(&self) -> (&'static str, Vec<&'static str>) {
        match self {
            Self::Script => ("script", vec!["steps"]),
            Self::Agent => ("agent", [&["directive"][..], &MODEL_FIELDS].concat()),
            Self::Playbook => ("playbook", vec!["playbook", "params", "agent"]),
            Self::Auto => (
                "auto",
                [
                    &["directive", "execution_mode", "params"][..],
                    &MODEL_FIELDS,
                ]
                .concat(),
            ),
        }
    }
}

impl TryFrom<RawDriverSpec> for DriverSpec {
    type Error = String;

    fn try_from(raw: RawDriverSpec) -> Result<Self, Self::Error> {
        let (kind, allowed) = raw.kind.fields();
        if let Some(field) = raw.stray(&allowed) {
            return Err(format!(
                "`{field}` is not a field of {kind} drivers; they take {}",
                allowed.join(", ")
            ));
        }
        match raw.kind {
            DriverType::Script => {
                let steps = raw
                    .steps
                    .ok_or("`steps` is required for script drivers: a list of actions")?;
                Ok(Self::Script { steps })
            }
            DriverType::Agent => raw
                .agent_spec("`directive` is required for agent drivers: the task, in words")
                .map(Self::Agent),
            DriverType::Playbook => Ok(Self::Playbook(PlaybookSpec {
                playbook: raw.playbook.ok_or(
                    "`playbook` is required for playbook drivers: an id, YAML text or an object",
                )?,
                params: raw.params.unwrap_or_default(),
                agent: raw.agent,
            })),
            DriverType::Auto => raw.auto().map(Self::Auto),
        }
    }
}

impl RawDriverSpec {
    fn auto(mut self) -> Result<AutoSpec, String> {
        let (execution_mode, params) = (self.execution_mode.take(), self.params.take());
        Ok(AutoSpec {
            agent: self.agent_spec(
                "`directive` is required for auto drivers: the task, in words, matched \
                 against the playbooks' tags",
            )?,
            execution_mode: execution_mode.unwrap_or_default(),
            params: params.unwrap_or_default(),
            route: None,
        })
    }

    /// The directive and model fields, as an agent driver takes them; `missing` when there is
    /// no directive.
    fn agent_spec(self, missing: &str) -> Result<AgentSpec, String> {
        Ok(AgentSpec {
            directive: self.directive.ok_or(missing)?,
            model: self.model,
            max_steps: self.max_steps,
            output_schema: self.output_schema,
            base_url: self.base_url,
            api_key: self.api_key,
            vision: self.vision,
            reasoning_effort: self.reasoning_effort,
            profile: self.profile,
        })
    }
}
