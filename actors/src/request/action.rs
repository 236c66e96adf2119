//! Browser actions: the `action`-tagged steps of a request, their names and summaries.

use std::fmt;

use serde::{Deserialize, Serialize};

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
        /// A selector: CSS, or `text=`, `role=`, `:has-text()`, `nth=`, `>>` (see `selector.rs`).
        selector: String,
    },
    /// Type `text`, or the secret named by `credential_ref`: into `selector` (replacing its
    /// value) or, without one, at the focus. A credential's value never appears in events,
    /// status, logs or recordings.
    Type {
        /// A selector (as for `click`); when absent the text goes to the focused element.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
        /// The text (exclusive with `credential_ref`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The name of a secret in the request's `credentials` (exclusive with `text`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential_ref: Option<String>,
    },
    /// Press one key (`Enter`, `Tab`, `a`, `ArrowDown`...) on the focused element.
    PressKey {
        /// A key name as in `KeyboardEvent.key`.
        key: String,
    },
    /// Scroll the page (or the element matching `selector`) by `amount` steps of 200 px.
    Scroll {
        /// up, down (default), left or right.
        #[serde(default)]
        direction: ScrollDirection,
        /// Steps of 200 px; default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<u32>,
        /// Scroll this element instead of the page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
    },
    /// Choose an option of the `<select>` matching `selector`, by `value` or by visible `label`.
    Select {
        /// A selector (as for `click`) of a `<select>`.
        selector: String,
        /// The option's value (exclusive with `label`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        /// The option's visible text (exclusive with `value`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// Move the mouse over the element matching `selector`.
    Hover {
        /// A selector: CSS, or `text=`, `role=`, `:has-text()`, `nth=`, `>>` (see `selector.rs`).
        selector: String,
    },
    /// Wait until `selector` reaches `state`.
    WaitFor {
        /// A selector: CSS, or `text=`, `role=`, `:has-text()`, `nth=`, `>>` (see `selector.rs`).
        selector: String,
        /// visible (default), hidden, attached or detached.
        #[serde(default)]
        state: WaitState,
        /// Overrides the run's action timeout for this wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
    },
    /// Read text, html, a form value or readable markdown from `selector`, or from the page.
    Extract {
        /// A selector (as for `click`); absent means the whole page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        selector: Option<String>,
        /// text (default), html, value or markdown.
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
    /// A compact snapshot of the page for a model: title and URL, form fields, tables, main
    /// content and visible interactive elements, within the configured size caps.
    Observe {
        /// Keep the snapshot in the run's `data` under this name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        store_as: Option<String>,
    },
    /// Capture a JPEG of the viewport (or the full page).
    Screenshot {
        /// Capture beyond the viewport.
        #[serde(default)]
        full_page: bool,
    },
    /// Send an HTTP request from the orchestrator itself (not the page), with the run's
    /// browser cookies where asked; the guardrails hold on the URL and on every redirect hop.
    /// Returns the response body as text, as JSON, or one value of it (`response.mode`).
    ApiRequest {
        /// The call (the reference's `request:` block).
        request: Box<super::ApiCall>,
        /// Keep the result in the run's `data` under this name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        store_as: Option<String>,
    },
    /// Ask the configured model (`[agent]`, or a playbook's `agent`) to read the page's
    /// markdown (blinded as `observe` is) and answer `prompt` with JSON, checked against
    /// `schema` when there is one (a mismatch is sent back to the model once).
    LlmExtract {
        /// What to extract, in words.
        prompt: String,
        /// A JSON Schema the answer must match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema: Option<serde_json::Value>,
        /// Keep the result in the run's `data` under this name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        store_as: Option<String>,
    },
    /// Run `steps` in order as one action; stops at the first failing step. No nesting.
    Sequence {
        /// The steps.
        steps: Vec<Action>,
    },
}

impl Action {
    /// A short, secret-free summary of the input for events and logs.
    pub fn summary(&self) -> String {
        match self {
            Self::Goto { url } => clip(url, 120),
            Self::Click { selector } | Self::Hover { selector } => clip(selector, 120),
            Self::Type {
                selector,
                text,
                credential_ref,
            } => {
                let target = selector.as_deref().unwrap_or("<focused>");
                match (text, credential_ref) {
                    (_, Some(name)) => format!("{target} (credential {name})"),
                    (Some(text), None) => format!("{target} ({} chars)", text.chars().count()),
                    (None, None) => target.to_owned(),
                }
            }
            Self::PressKey { key } => key.clone(),
            Self::Scroll {
                direction,
                amount,
                selector,
            } => format!(
                "{} {}{}",
                direction.as_str(),
                amount.unwrap_or(1),
                selector
                    .as_deref()
                    .map(|s| format!(" in {s}"))
                    .unwrap_or_default()
            ),
            Self::Select {
                selector,
                value,
                label,
            } => match (value, label) {
                (Some(v), _) => format!("{} value={}", clip(selector, 100), clip(v, 40)),
                (_, Some(l)) => format!("{} label={}", clip(selector, 100), clip(l, 40)),
                _ => clip(selector, 100),
            },
            Self::Observe { .. } => "page".to_owned(),
            Self::Sequence { steps } => steps
                .iter()
                .map(Action::name)
                .collect::<Vec<_>>()
                .join(", "),
            Self::WaitFor {
                selector, state, ..
            } => format!("{} {}", clip(selector, 100), state.as_str()),
            Self::Extract { selector, mode, .. } => format!(
                "{} ({})",
                selector.as_deref().unwrap_or("<page>"),
                mode.as_str()
            ),
            Self::Evaluate { script, .. } => clip(script, 80),
            Self::Screenshot { full_page: true } => "full page".to_owned(),
            Self::Screenshot { .. } => "viewport".to_owned(),
            Self::ApiRequest { request, .. } => api_summary(request),
            Self::LlmExtract { prompt, .. } => clip(prompt, 80),
        }
    }

    /// The name under which the result is kept, if any.
    pub fn store_as(&self) -> Option<&str> {
        match self {
            Self::Extract { store_as, .. }
            | Self::Evaluate { store_as, .. }
            | Self::Observe { store_as }
            | Self::ApiRequest { store_as, .. }
            | Self::LlmExtract { store_as, .. } => store_as.as_deref(),
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

    /// The action's own time bound (`wait_for`'s and `api_request`'s `timeout_ms`), which
    /// replaces the run's `action_timeout_ms` for it.
    pub fn own_timeout_ms(&self) -> Option<u64> {
        match self {
            Action::WaitFor { timeout_ms, .. } => *timeout_ms,
            Action::ApiRequest { request, .. } => Some(request.timeout_ms),
            _ => None,
        }
    }

    /// Actions after which the main frame may have moved (checked by the post-navigation guard).
    pub fn may_navigate(&self) -> bool {
        matches!(
            self,
            Self::Goto { .. }
                | Self::Click { .. }
                | Self::PressKey { .. }
                | Self::Evaluate { .. }
                | Self::Select { .. }
        )
    }
}

/// `GET https://api.example/v1/items (query: a, b; headers: X-Token; cookies)`: the method
/// and the URL without its query, then only the names of what else is sent — never a value.
fn api_summary(call: &super::ApiCall) -> String {
    let bare = call.url.split(['?', '#']).next().unwrap_or_default();
    let mut parts = Vec::new();
    let names = |keys: Vec<&String>| {
        keys.into_iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !call.query.is_empty() {
        parts.push(format!("query: {}", names(call.query.keys().collect())));
    }
    if !call.headers.is_empty() {
        parts.push(format!("headers: {}", names(call.headers.keys().collect())));
    }
    if !call.cookies.is_none() {
        parts.push("cookies".to_owned());
    }
    if call.json.is_some() {
        parts.push("json body".to_owned());
    }
    if !call.form.is_empty() {
        parts.push(format!("form: {}", names(call.form.keys().collect())));
    }
    let extra = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    };
    format!(
        "{} {}{extra} -> {}",
        call.method.to_ascii_uppercase(),
        clip(bare, 120),
        call.response.mode.as_str()
    )
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
    /// The main content, readability-style, as markdown (capped in size).
    Markdown,
}

impl ExtractMode {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Html => "html",
            Self::Value => "value",
            Self::Markdown => "markdown",
        }
    }
}

/// Directions `scroll` can go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScrollDirection {
    /// Towards the top.
    Up,
    /// Towards the bottom (default).
    #[default]
    Down,
    /// Towards the left.
    Left,
    /// Towards the right.
    Right,
}

impl ScrollDirection {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Left => "left",
            Self::Right => "right",
        }
    }
}

/// A credential value: usable by `type`, never printed, logged or serialized.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that types it into the page.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(******)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("******")
    }
}

/// `value` with `f` applied to every string in it, at any depth (object keys are kept).
pub(crate) fn map_strings(
    value: serde_json::Value,
    f: &mut impl FnMut(&str) -> String,
) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, map_strings(v, f)))
                .collect(),
        ),
        other => other,
    }
}

pub(crate) fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}
