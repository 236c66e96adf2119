//! Action kinds: the one list of what a run can do. An action's name (`Action::name()`), what
//! each task kind allows (`TaskKind::allows`), what a playbook step may be and the `action` enum
//! of the agent's `browser` tool all come from [`ActionKind`], through exhaustive `match`es, so
//! a new action cannot be forgotten in any of them.

use serde::{Deserialize, Serialize};

use super::Action;

impl ActionKind {
    /// Every kind, in the order lists show them (`goto` first, `sequence` last).
    pub const ALL: [ActionKind; 15] = [
        Self::Goto,
        Self::Click,
        Self::Type,
        Self::PressKey,
        Self::Scroll,
        Self::Select,
        Self::Hover,
        Self::WaitFor,
        Self::Extract,
        Self::Evaluate,
        Self::Observe,
        Self::Screenshot,
        Self::ApiRequest,
        Self::LlmExtract,
        Self::Sequence,
    ];

    /// The `action` tag.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Goto => "goto",
            Self::Click => "click",
            Self::Type => "type",
            Self::PressKey => "press_key",
            Self::Scroll => "scroll",
            Self::Select => "select",
            Self::Hover => "hover",
            Self::WaitFor => "wait_for",
            Self::Extract => "extract",
            Self::Evaluate => "evaluate",
            Self::Observe => "observe",
            Self::Screenshot => "screenshot",
            Self::ApiRequest => "api_request",
            Self::LlmExtract => "llm_extract",
            Self::Sequence => "sequence",
        }
    }

    /// The kind named `name` (an `action` tag).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// True for one action on its own: what a model calls with one tool call and what one
    /// playbook step is. A `sequence` groups several.
    pub const fn is_single(self) -> bool {
        match self {
            Self::Sequence => false,
            Self::Goto
            | Self::Click
            | Self::Type
            | Self::PressKey
            | Self::Scroll
            | Self::Select
            | Self::Hover
            | Self::WaitFor
            | Self::Extract
            | Self::Evaluate
            | Self::Observe
            | Self::Screenshot
            | Self::ApiRequest
            | Self::LlmExtract => true,
        }
    }

    /// True for the kinds the agent's `browser` tool offers a model. Not `api_request` (a
    /// request the orchestrator sends, with the run's cookies, is for scripts and playbooks
    /// that name its URL, not for a model a page may steer) nor `llm_extract` (the agent
    /// reads the page itself); not `sequence` (one action per tool call).
    pub const fn is_offered_to_models(self) -> bool {
        match self {
            Self::ApiRequest | Self::LlmExtract | Self::Sequence => false,
            Self::Goto
            | Self::Click
            | Self::Type
            | Self::PressKey
            | Self::Scroll
            | Self::Select
            | Self::Hover
            | Self::WaitFor
            | Self::Extract
            | Self::Evaluate
            | Self::Observe
            | Self::Screenshot => true,
        }
    }

    /// True for the kinds whose result a `store_as` keeps in the run's `data`.
    pub const fn keeps_result(self) -> bool {
        match self {
            Self::Extract
            | Self::Evaluate
            | Self::Observe
            | Self::ApiRequest
            | Self::LlmExtract => true,
            Self::Goto
            | Self::Click
            | Self::Type
            | Self::PressKey
            | Self::Scroll
            | Self::Select
            | Self::Hover
            | Self::WaitFor
            | Self::Screenshot
            | Self::Sequence => false,
        }
    }

    /// The names of the single actions (every kind but `sequence`), in [`ActionKind::ALL`]'s
    /// order.
    pub fn single_names() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|kind| kind.is_single())
            .map(Self::name)
            .collect()
    }
}

impl Action {
    /// What kind of action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Goto { .. } => ActionKind::Goto,
            Self::Click { .. } => ActionKind::Click,
            Self::Type { .. } => ActionKind::Type,
            Self::PressKey { .. } => ActionKind::PressKey,
            Self::Scroll { .. } => ActionKind::Scroll,
            Self::Select { .. } => ActionKind::Select,
            Self::Hover { .. } => ActionKind::Hover,
            Self::WaitFor { .. } => ActionKind::WaitFor,
            Self::Extract { .. } => ActionKind::Extract,
            Self::Evaluate { .. } => ActionKind::Evaluate,
            Self::Observe { .. } => ActionKind::Observe,
            Self::Screenshot { .. } => ActionKind::Screenshot,
            Self::ApiRequest { .. } => ActionKind::ApiRequest,
            Self::LlmExtract { .. } => ActionKind::LlmExtract,
            Self::Sequence { .. } => ActionKind::Sequence,
        }
    }

    /// The `action` tag.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// What an action does, without its fields: one variant per [`Action`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `goto`.
    Goto,
    /// `click`.
    Click,
    /// `type`.
    Type,
    /// `press_key`.
    PressKey,
    /// `scroll`.
    Scroll,
    /// `select`.
    Select,
    /// `hover`.
    Hover,
    /// `wait_for`.
    WaitFor,
    /// `extract`.
    Extract,
    /// `evaluate`.
    Evaluate,
    /// `observe`.
    Observe,
    /// `screenshot`.
    Screenshot,
    /// `api_request`.
    ApiRequest,
    /// `llm_extract`.
    LlmExtract,
    /// `sequence`.
    Sequence,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants serde knows, from its "expected one of" list for an unknown variant.
    fn serde_variants<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) -> Vec<String> {
        let error = serde_json::from_str::<T>(json).unwrap_err().to_string();
        let list = error
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("no variant list in: {error}"));
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn all_lists_every_action_once_under_its_tag() {
        let names: Vec<String> = ActionKind::ALL
            .iter()
            .map(|k| k.name().to_owned())
            .collect();
        // `Action`'s own tags (derived by serde from its variants) are exactly `ALL`'s names, in
        // order: an action added to `Action` but not to `ActionKind::ALL` fails here.
        assert_eq!(serde_variants::<Action>(r#"{"action": "nope"}"#), names);
        assert_eq!(serde_variants::<ActionKind>(r#""nope""#), names);
        for kind in ActionKind::ALL {
            assert_eq!(ActionKind::from_name(kind.name()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        assert_eq!(ActionKind::from_name("nope"), None);
    }

    #[test]
    fn single_actions_are_every_kind_but_sequence() {
        let single = ActionKind::single_names();
        assert_eq!(single.len(), ActionKind::ALL.len() - 1);
        assert!(!single.contains(&"sequence"));
        assert_eq!(single.first(), Some(&"goto"));
    }
}
