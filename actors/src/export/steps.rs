//! Recorded actions into playbook steps, in the reference's format (see `export.rs`).

use serde_json::{Map, Value, json};

use crate::recording::ActionEntry;

/// Turns recorded actions into steps, one at a time.
pub(super) struct Exporter {
    directive: String,
    pub(super) steps: Vec<Value>,
    pub(super) parameters: Vec<Value>,
    pub(super) notes: Vec<String>,
    /// Selectors that failed, by action, since that action last worked.
    failed: Vec<(String, String)>,
    /// The page's path after the last step that reported one.
    last_path: Option<String>,
}

/// The path (and query) of `url`, what `expect_url_contains` checks.
fn path_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let mut path = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

impl Exporter {
    pub(super) fn new(directive: &str) -> Self {
        Self {
            directive: directive.to_lowercase(),
            steps: Vec::new(),
            parameters: Vec::new(),
            notes: Vec::new(),
            failed: Vec::new(),
            last_path: None,
        }
    }

    /// One recorded action.
    pub(super) fn entry(&mut self, entry: &ActionEntry) {
        let Some(params) = entry.params.as_ref().and_then(Value::as_object) else {
            self.notes.push(format!(
                "step {} ({}) was recorded without its input; left out",
                entry.step, entry.action
            ));
            return;
        };
        if !entry.success {
            if let Some(selector) = params.get("selector").and_then(Value::as_str) {
                self.failed
                    .push((entry.action.clone(), selector.to_owned()));
            }
            return;
        }
        let url = entry.url.as_deref();
        match params.get("steps").and_then(Value::as_array) {
            Some(inner) if entry.action == "sequence" => {
                for (i, step) in inner.iter().enumerate() {
                    let last = i + 1 == inner.len();
                    if let Some(step) = step.as_object() {
                        self.action(step, if last { url } else { None }, &entry.input);
                    }
                }
            }
            _ => self.action(params, url, &entry.input),
        }
    }

    /// One action that worked, with the URL the page had after it (when it may have moved).
    fn action(&mut self, params: &Map<String, Value>, url: Option<&str>, summary: &str) {
        let name = params
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if matches!(name.as_str(), "observe" | "screenshot") {
            return;
        }
        let mut rest = params.clone();
        rest.remove("action");
        let selector = rest
            .remove("selector")
            .and_then(|s| s.as_str().map(str::to_owned));
        let mut step = Map::new();
        let action = match name.as_str() {
            "press_key" | "type" if !rest.contains_key("credential_ref") => "key_press",
            other => other,
        };
        step.insert("action".into(), json!(action));
        if let Some(selector) = &selector {
            step.insert("selector".into(), self.selector(&name, selector));
        }
        if name == "type" {
            self.typed(&mut rest, selector.as_deref());
        }
        if let Some(store_as) = rest.remove("store_as") {
            step.insert("store_as".into(), store_as);
        } else if name == "extract" {
            // What the agent read lands in the replay's data, named after its element.
            let kept = slug(selector.as_deref())
                .unwrap_or_else(|| format!("extract_{}", self.steps.len() + 1));
            step.insert("store_as".into(), json!(kept));
        }
        if !rest.is_empty() {
            step.insert("params".into(), Value::Object(rest));
        }
        let path = url.and_then(path_of);
        let moved = path.is_some() && path != self.last_path;
        if (name == "goto" || name == "click") && moved {
            let contains = path.clone().unwrap_or_default();
            step.insert("verify".into(), json!({"expect_url_contains": contains}));
        }
        if path.is_some() {
            self.last_path = path;
        }
        step.insert("description".into(), json!(format!("{name} {summary}")));
        self.steps.push(Value::Object(step));
    }

    /// `{primary, fallbacks}`: the selector that worked, and the ones that failed for the same
    /// action since that action last worked.
    fn selector(&mut self, action: &str, worked: &str) -> Value {
        let mut fallbacks: Vec<String> = Vec::new();
        self.failed.retain(|(tried_action, tried)| {
            if tried_action != action {
                return true;
            }
            if tried != worked && !fallbacks.contains(tried) {
                fallbacks.push(tried.clone());
            }
            false
        });
        if fallbacks.is_empty() {
            json!({"primary": worked})
        } else {
            json!({"primary": worked, "fallbacks": fallbacks})
        }
    }

    /// Typed text the directive contains becomes a parameter (its value the default).
    fn typed(&mut self, rest: &mut Map<String, Value>, selector: Option<&str>) {
        let Some(text) = rest.get("text").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        if text.trim().is_empty() || !self.directive.contains(&text.to_lowercase()) {
            return;
        }
        let name = self.parameter_name(selector);
        self.parameters.push(json!({
            "name": name,
            "type": "string",
            "description": format!("typed into {}; the directive said `{text}`", selector.unwrap_or("the focused field")),
            "default": text,
        }));
        rest.insert("text".into(), json!(format!("{{{name}}}")));
    }

    /// A name for the parameter typed into `selector`: its id or `name`, else `value_N`.
    fn parameter_name(&self, selector: Option<&str>) -> String {
        let base = slug(selector).unwrap_or_else(|| format!("value_{}", self.parameters.len() + 1));
        let taken = |n: &str| self.parameters.iter().any(|p| p["name"] == n);
        let mut name = base.clone();
        let mut i = 2;
        while taken(&name) {
            name = format!("{base}_{i}");
            i += 1;
        }
        name
    }
}

/// A name from a selector's `#id` or `name=` (`#email` → `email`), when it has one.
fn slug(selector: Option<&str>) -> Option<String> {
    let s = selector?;
    let id = s.rsplit('#').next().filter(|_| s.contains('#'));
    let raw = id.or_else(|| s.split("name=").nth(1))?;
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('_')
        .to_owned();
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}
