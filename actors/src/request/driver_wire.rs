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
            DriverType::Agent => {
                let directive = raw
                    .directive
                    .ok_or("`directive` is required for agent drivers: the task, in words")?;
                Ok(Self::Agent(AgentSpec {
                    directive,
                    model: raw.model,
                    max_steps: raw.max_steps,
                    output_schema: raw.output_schema,
                    base_url: raw.base_url,
                    api_key: raw.api_key,
                    vision: raw.vision,
                    reasoning_effort: raw.reasoning_effort,
                    profile: raw.profile,
                }))
            }
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
    fn auto(self) -> Result<AutoSpec, String> {
        Ok(AutoSpec {
            directive: self.directive.ok_or(
                "`directive` is required for auto drivers: the task, in words, matched \
                 against the playbooks' tags",
            )?,
            execution_mode: self.execution_mode.unwrap_or_default(),
            params: self.params.unwrap_or_default(),
            model: self.model,
            max_steps: self.max_steps,
            output_schema: self.output_schema,
            base_url: self.base_url,
            api_key: self.api_key,
            vision: self.vision,
            reasoning_effort: self.reasoning_effort,
            profile: self.profile,
            route: None,
        })
    }
}
