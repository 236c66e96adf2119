//! The run request: the JSON contract a host submits, its parsing with field paths, and its
//! validation with errors that name the field and the fix.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// A run to execute: what drives it, where it may go, and its limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Opened before the driver's first action (as a guarded `goto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    /// What decides the run's actions.
    pub driver: DriverSpec,
    /// Where the run may go.
    #[serde(default)]
    pub guardrails: GuardrailSpec,
    /// Time and step limits; unset fields take the config's defaults.
    #[serde(default)]
    pub limits: Limits,
    /// The page's viewport.
    #[serde(default)]
    pub viewport: Viewport,
    /// Free-form labels copied into the status.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What decides a run's actions. Tagged by `type`; `playbook` and `agent` drivers come later.
///
/// Deserialized through [`RawDriverSpec`], a plain struct: serde buffers internally tagged
/// enums, which would hide the path of an error inside `steps` (`driver.steps[3]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawDriverSpec")]
#[non_exhaustive]
pub enum DriverSpec {
    /// A fixed list of actions, run in order; the first failure fails the run.
    Script {
        /// The actions.
        steps: Vec<Action>,
    },
}

/// The wire form of [`DriverSpec`]: every driver's fields, checked against the `type`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDriverSpec {
    #[serde(rename = "type")]
    kind: DriverType,
    #[serde(default)]
    steps: Option<Vec<Action>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum DriverType {
    Script,
}

impl TryFrom<RawDriverSpec> for DriverSpec {
    type Error = String;

    fn try_from(raw: RawDriverSpec) -> Result<Self, Self::Error> {
        match raw.kind {
            DriverType::Script => {
                let steps = raw
                    .steps
                    .ok_or("`steps` is required for script drivers: a list of actions")?;
                Ok(Self::Script { steps })
            }
        }
    }
}

impl DriverSpec {
    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Script { .. } => "script",
        }
    }
}

/// One browser action. Tagged by `action`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Action {
    /// Navigate the page to `url` and wait for it to load.
    Goto {
        /// An absolute http(s) URL.
        url: String,
    },
    /// Click the element matching `selector` (waiting for it to be visible).
    Click {
        /// A CSS selector.
        selector: String,
    },
    /// Type `text`: into `selector` (replacing its value) or, without one, at the focus.
    Type {
        /// A CSS selector; when absent the text goes to the focused element.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
        /// The text.
        text: String,
    },
    /// Press one key (`Enter`, `Tab`, `a`, `ArrowDown`...) on the focused element.
    PressKey {
        /// A key name as in `KeyboardEvent.key`.
        key: String,
    },
    /// Wait until `selector` reaches `state`.
    WaitFor {
        /// A CSS selector.
        selector: String,
        /// visible (default), hidden, attached or detached.
        #[serde(default)]
        state: WaitState,
        /// Overrides the run's action timeout for this wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Read text (or html, or a form value) from `selector`, or the page's text without one.
    Extract {
        /// A CSS selector; absent means the whole page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
        /// text (default), html or value.
        #[serde(default)]
        mode: ExtractMode,
        /// Keep the result in the run's `data` under this name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        store_as: Option<String>,
    },
    /// Evaluate a JavaScript expression (promises are awaited); the JSON result is returned.
    Evaluate {
        /// The expression.
        script: String,
        /// Keep the result in the run's `data` under this name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        store_as: Option<String>,
    },
    /// Capture a JPEG of the viewport (or the full page).
    Screenshot {
        /// Capture beyond the viewport.
        #[serde(default)]
        full_page: bool,
    },
}

impl Action {
    /// The `action` tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Goto { .. } => "goto",
            Self::Click { .. } => "click",
            Self::Type { .. } => "type",
            Self::PressKey { .. } => "press_key",
            Self::WaitFor { .. } => "wait_for",
            Self::Extract { .. } => "extract",
            Self::Evaluate { .. } => "evaluate",
            Self::Screenshot { .. } => "screenshot",
        }
    }

    /// A short, secret-free summary of the input for events and logs.
    pub fn summary(&self) -> String {
        match self {
            Self::Goto { url } => clip(url, 120),
            Self::Click { selector } => clip(selector, 120),
            Self::Type { selector, text } => format!(
                "{} ({} chars)",
                selector.as_deref().unwrap_or("<focused>"),
                text.chars().count()
            ),
            Self::PressKey { key } => key.clone(),
            Self::WaitFor {
                selector, state, ..
            } => format!("{} {}", clip(selector, 100), state.as_str()),
            Self::Extract { selector, mode, .. } => format!(
                "{} ({})",
                selector.as_deref().unwrap_or("<page>"),
                mode.as_str()
            ),
            Self::Evaluate { script, .. } => clip(script, 80),
            Self::Screenshot { full_page } => {
                if *full_page { "full page" } else { "viewport" }.to_owned()
            }
        }
    }

    /// The name under which the result is kept, if any.
    pub fn store_as(&self) -> Option<&str> {
        match self {
            Self::Extract { store_as, .. } | Self::Evaluate { store_as, .. } => store_as.as_deref(),
            _ => None,
        }
    }

    /// The URL an action navigates to before it runs, for the pre-action guard.
    pub fn target_url(&self) -> Option<&str> {
        match self {
            Self::Goto { url } => Some(url),
            _ => None,
        }
    }

    /// Actions after which the main frame may have moved (checked by the post-navigation guard).
    pub fn may_navigate(&self) -> bool {
        matches!(
            self,
            Self::Goto { .. } | Self::Click { .. } | Self::PressKey { .. } | Self::Evaluate { .. }
        )
    }
}

/// Element states `wait_for` can wait for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitState {
    /// Attached and rendered with a non-empty box, not `visibility: hidden`.
    #[default]
    Visible,
    /// Absent or not visible.
    Hidden,
    /// Present in the DOM.
    Attached,
    /// Absent from the DOM.
    Detached,
}

impl WaitState {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visible => "visible",
            Self::Hidden => "hidden",
            Self::Attached => "attached",
            Self::Detached => "detached",
        }
    }
}

/// What `extract` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtractMode {
    /// The rendered text (`innerText`).
    #[default]
    Text,
    /// The element's outer HTML.
    Html,
    /// A form control's value.
    Value,
}

impl ExtractMode {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Html => "html",
            Self::Value => "value",
        }
    }
}

/// Where a run may go. Private networks are blocked unless explicitly allowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSpec {
    /// Hosts the run may visit; `d` covers `d` and `*.d`. Empty: any public host.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Hosts the run may never visit, as globs (`*.x` also matches `x`); they win over
    /// `allowed_domains`. Unset: a built-in list (government, banking, payment, webmail and
    /// social sites) that applies only when `allowed_domains` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_domains: Option<Vec<String>>,
    /// Allow loopback, private, link-local and similar addresses (default: blocked).
    #[serde(default)]
    pub allow_private_networks: bool,
}

/// Per-run limits; `None` takes the config's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The run's deadline, from the moment it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// The most actions the run may dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    /// Bound on each action (element waits included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_timeout_ms: Option<u64>,
    /// Bound on each navigation's load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub navigation_timeout_ms: Option<u64>,
}

/// The limits of a run once the config's defaults are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// The run's deadline.
    pub timeout_seconds: u64,
    /// The most actions the run may dispatch.
    pub max_steps: u32,
    /// Bound on each action.
    pub action_timeout_ms: u64,
    /// Bound on each navigation's load.
    pub navigation_timeout_ms: u64,
}

impl Limits {
    /// Fills unset limits from the config.
    pub fn effective(&self, config: &Config) -> EffectiveLimits {
        let d = &config.defaults;
        EffectiveLimits {
            timeout_seconds: self.timeout_seconds.unwrap_or(d.run_timeout_seconds),
            max_steps: self.max_steps.unwrap_or(d.max_steps),
            action_timeout_ms: self.action_timeout_ms.unwrap_or(d.action_timeout_ms),
            navigation_timeout_ms: self
                .navigation_timeout_ms
                .unwrap_or(d.navigation_timeout_ms),
        }
    }
}

/// The page's size in CSS pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    /// Width, 100..=7680.
    pub width: u32,
    /// Height, 100..=4320.
    pub height: u32,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
        }
    }
}

/// One problem with a request: the field's path and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// `driver.steps[3].selector`.
    pub field: String,
    /// `must not be empty`.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("invalid run request: {}", display_list(.errors))]
pub struct InvalidRequest {
    /// The problems, in field order.
    pub errors: Vec<FieldError>,
}

fn display_list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl InvalidRequest {
    fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}

impl RunRequest {
    /// Parses a request from JSON; errors name the field's path (`driver.steps[2].action`).
    pub fn from_json(text: &str) -> Result<Self, InvalidRequest> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "request".to_owned()
            } else {
                path
            };
            InvalidRequest::single(field, strip_position(&e.into_inner().to_string()))
        })
    }

    /// Checks everything serde cannot: URLs, selectors, names and limits.
    pub fn validate(&self, config: &Config) -> Result<(), InvalidRequest> {
        let mut v = Validator::default();
        if let Some(url) = &self.start_url {
            v.url("start_url", url);
        }
        match &self.driver {
            DriverSpec::Script { steps } => {
                if steps.is_empty() && self.start_url.is_none() {
                    v.push("driver.steps", "must list at least one action");
                }
                let max = self.limits.effective(config).max_steps as usize;
                if steps.len() + usize::from(self.start_url.is_some()) > max {
                    v.push(
                        "driver.steps",
                        format!(
                            "has {} actions (plus start_url) but limits.max_steps is {max}; \
                             raise limits.max_steps or shorten the script",
                            steps.len()
                        ),
                    );
                }
                for (i, step) in steps.iter().enumerate() {
                    v.action(&format!("driver.steps[{i}]"), step);
                }
            }
        }
        for (i, domain) in self.guardrails.allowed_domains.iter().enumerate() {
            if let Err(msg) = crate::guard::check_domain_pattern(domain) {
                v.push(format!("guardrails.allowed_domains[{i}]"), msg);
            }
        }
        for (i, glob) in self.guardrails.blocked_domains.iter().flatten().enumerate() {
            if let Err(msg) = crate::guard::check_domain_pattern(glob) {
                v.push(format!("guardrails.blocked_domains[{i}]"), msg);
            }
        }
        v.limits(&self.limits);
        let Viewport { width, height } = self.viewport;
        if !(100..=7680).contains(&width) {
            v.push("viewport.width", "must be between 100 and 7680");
        }
        if !(100..=4320).contains(&height) {
            v.push("viewport.height", "must be between 100 and 4320");
        }
        v.finish()
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn finish(self) -> Result<(), InvalidRequest> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(InvalidRequest {
                errors: self.errors,
            })
        }
    }

    fn url(&mut self, field: &str, value: &str) {
        match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(u) => self.push(
                field,
                format!(
                    "must be an http or https URL with a host, got scheme `{}`",
                    u.scheme()
                ),
            ),
            Err(e) => self.push(
                field,
                format!(
                    "is not a valid absolute URL ({e}); write it like https://example.com/path"
                ),
            ),
        }
    }

    fn selector(&mut self, field: String, value: &str) {
        if value.trim().is_empty() {
            self.push(
                field,
                "must not be empty; give a CSS selector such as #submit",
            );
        } else if value.len() > 2000 {
            self.push(field, "is longer than 2000 characters");
        }
    }

    fn store_as(&mut self, field: String, value: &Option<String>) {
        if let Some(name) = value {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
            if !ok {
                self.push(
                    field,
                    "must be 1-64 characters of letters, digits, `_`, `-` or `.`",
                );
            }
        }
    }

    fn action(&mut self, at: &str, action: &Action) {
        match action {
            Action::Goto { url } => self.url(&format!("{at}.url"), url),
            Action::Click { selector } => self.selector(format!("{at}.selector"), selector),
            Action::Type { selector, .. } => {
                if let Some(s) = selector {
                    self.selector(format!("{at}.selector"), s);
                }
            }
            Action::PressKey { key } => {
                if chromiumoxide::keys::get_key_definition(key).is_none() {
                    self.push(
                        format!("{at}.key"),
                        format!("unknown key `{key}`; use a KeyboardEvent.key name such as Enter, Tab or a"),
                    );
                }
            }
            Action::WaitFor {
                selector,
                timeout_ms,
                ..
            } => {
                self.selector(format!("{at}.selector"), selector);
                if let Some(ms) = timeout_ms {
                    if !(1..=600_000).contains(ms) {
                        self.push(format!("{at}.timeout_ms"), "must be between 1 and 600000");
                    }
                }
            }
            Action::Extract {
                selector, store_as, ..
            } => {
                if let Some(s) = selector {
                    self.selector(format!("{at}.selector"), s);
                }
                self.store_as(format!("{at}.store_as"), store_as);
            }
            Action::Evaluate { script, store_as } => {
                if script.trim().is_empty() {
                    self.push(format!("{at}.script"), "must not be empty");
                }
                self.store_as(format!("{at}.store_as"), store_as);
            }
            Action::Screenshot { .. } => {}
        }
    }

    fn limits(&mut self, limits: &Limits) {
        let ranges: [(&str, Option<u64>, u64, u64); 4] = [
            ("limits.timeout_seconds", limits.timeout_seconds, 1, 86_400),
            (
                "limits.max_steps",
                limits.max_steps.map(u64::from),
                1,
                10_000,
            ),
            (
                "limits.action_timeout_ms",
                limits.action_timeout_ms,
                1,
                600_000,
            ),
            (
                "limits.navigation_timeout_ms",
                limits.navigation_timeout_ms,
                1,
                600_000,
            ),
        ];
        for (field, value, min, max) in ranges {
            if let Some(v) = value {
                if !(min..=max).contains(&v) {
                    self.push(field, format!("must be between {min} and {max}, got {v}"));
                }
            }
        }
    }
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = r##"{"start_url": "http://127.0.0.1:8080/",
     "driver": {"type": "script", "steps": [
       {"action": "goto", "url": "http://127.0.0.1:8080/form"},
       {"action": "type", "selector": "#name", "text": "Ada"},
       {"action": "click", "selector": "#submit"},
       {"action": "press_key", "key": "Enter"},
       {"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000},
       {"action": "extract", "selector": "#out", "store_as": "greeting"},
       {"action": "evaluate", "script": "document.title", "store_as": "title"},
       {"action": "screenshot"}]},
     "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
     "limits": {"timeout_seconds": 600, "max_steps": 50, "action_timeout_ms": 5000,
                "navigation_timeout_ms": 7000},
     "viewport": {"width": 1280, "height": 720},
     "labels": {"team": "demo"}}"##;

    fn errors_of(json: &str) -> Vec<FieldError> {
        match RunRequest::from_json(json) {
            Ok(r) => r.validate(&Config::default()).err().unwrap().errors,
            Err(e) => e.errors,
        }
    }

    #[test]
    fn the_contract_example_parses_and_validates() {
        let req = RunRequest::from_json(CONTRACT).unwrap();
        req.validate(&Config::default()).unwrap();
        let DriverSpec::Script { steps } = &req.driver;
        assert_eq!(steps.len(), 8);
        assert_eq!(steps[4].name(), "wait_for");
        assert_eq!(req.labels["team"], "demo");
    }

    #[test]
    fn unknown_action_names_its_step() {
        let errs = errors_of(
            r#"{"driver":{"type":"script","steps":[{"action":"goto","url":"https://a.test/"},{"action":"fly"}]}}"#,
        );
        assert_eq!(errs[0].field, "driver.steps[1].action");
        assert!(
            errs[0].message.contains("unknown variant `fly`"),
            "{errs:?}"
        );
    }

    #[test]
    fn unknown_field_names_its_path() {
        let errs = errors_of(
            r##"{"driver":{"type":"script","steps":[{"action":"click","selector":"#a","force":true}]}}"##,
        );
        assert_eq!(errs[0].field, "driver.steps[0]");
        assert!(errs[0].message.contains("force"), "{errs:?}");
        let errs = errors_of(r#"{"driver":{"type":"script","steps":[]},"colour":"red"}"#);
        assert!(errs[0].message.contains("colour"), "{errs:?}");
    }

    #[test]
    fn semantic_errors_name_field_and_fix() {
        let errs = errors_of(
            r#"{"driver":{"type":"script","steps":[
                {"action":"goto","url":"not a url"},
                {"action":"click","selector":"  "},
                {"action":"goto","url":"file:///etc/passwd"},
                {"action":"press_key","key":"Entre"}]},
               "limits":{"timeout_seconds":0}}"#,
        );
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "driver.steps[0].url",
                "driver.steps[1].selector",
                "driver.steps[2].url",
                "driver.steps[3].key",
                "limits.timeout_seconds"
            ]
        );
        assert!(errs[1].message.contains("must not be empty"));
        assert!(errs[2].message.contains("scheme `file`"));
    }

    #[test]
    fn too_many_steps_for_max_steps_is_rejected() {
        let errs = errors_of(
            r#"{"driver":{"type":"script","steps":[{"action":"screenshot"},{"action":"screenshot"}]},
               "limits":{"max_steps":1}}"#,
        );
        assert_eq!(errs[0].field, "driver.steps");
    }

    #[test]
    fn summaries_never_contain_typed_text() {
        let a = Action::Type {
            selector: Some("#pw".into()),
            text: "hunter2".into(),
        };
        assert!(!a.summary().contains("hunter2"));
    }
}
