//! Playbook validation: everything wrong with a playbook, each problem naming its step and field
//! (`steps[2].selector.primary: ...`), and the parameter values of a run checked against the
//! playbook's declarations.

use std::collections::BTreeMap;

use serde_json::Value;

use super::KEY_PRESS;
use super::binding::{is_param_name, references};
use super::checks::{check_param, check_selector};
use super::inject::{parse_path, set_in_step};
use crate::request::{
    Action, ActionKind, FieldError, Parameter, Playbook, ResponseMode, SelectorSpec, Step, Verify,
};

impl Playbook {
    /// Everything wrong with the playbook; empty when it is usable.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut push = |field: String, message: String| out.push(FieldError { field, message });
        if self.id.trim().is_empty() {
            push("id".into(), "must not be empty".into());
        }
        if self.steps.is_empty() {
            push("steps".into(), "must list at least one step".into());
        }
        let mut known = parameter_problems(&self.parameters, &mut push);
        if let Some(url) = &self.start_url {
            let mut refs = Vec::new();
            references(&Value::String(url.clone()), &mut refs);
            for r in refs.iter().filter(|r| !known.contains(r)) {
                push("start_url".into(), format!("unknown parameter `{{{r}}}`"));
            }
        }
        self.auth_problems(&known, &mut push);
        known.extend(self.capture_problems(&mut push));
        for (i, step) in self.steps.iter().enumerate() {
            step_problems(&format!("steps[{i}]"), step, &known, &mut push);
            if let Some(name) = &step.store_as {
                known.push(name.clone());
            }
        }
        self.inject_problems(&mut push);
        out
    }

    /// The `auth` block: a sign-in page that is a URL (or `{param}`s of one), a valid session
    /// id, success checks with a bound. `known`: the parameters so far.
    fn auth_problems(&self, known: &[String], push: &mut impl FnMut(String, String)) {
        let Some(auth) = &self.auth else { return };
        let mut refs = Vec::new();
        references(&Value::String(auth.login_url.clone()), &mut refs);
        for r in refs.iter().filter(|r| !known.contains(r)) {
            push(
                "auth.login_url".into(),
                format!("unknown parameter `{{{r}}}`"),
            );
        }
        let url = &auth.login_url;
        if refs.is_empty() && !url.is_empty() && url::Url::parse(url).is_err() {
            push(
                "auth.login_url".into(),
                format!("`{url}` is not an absolute URL"),
            );
        }
        if let Some(id) = auth.session_id.as_deref().filter(|id| !id.contains('{'))
            && let Err(message) = crate::sessions::check_id(id)
        {
            push("auth.session_id".into(), message);
        }
        if auth.session_id.is_none()
            && let Err(message) = crate::sessions::check_id(&self.id)
        {
            push(
                "auth.session_id".into(),
                format!("the playbook's id is the session id: {message}; set auth.session_id"),
            );
        }
        let Some(success) = &auth.success else { return };
        if success.timeout_ms == 0 {
            push(
                "auth.success.timeout_ms".into(),
                "must be at least 1".into(),
            );
        }
        if let Some(selector) = &success.element_visible
            && let Err(message) = check_selector(selector)
        {
            push("auth.success.element_visible".into(), message);
        }
    }

    /// The `capture` block; returns the parameter names it adds (`store_as`, static headers).
    fn capture_problems(&self, push: &mut impl FnMut(String, String)) -> Vec<String> {
        let Some(capture) = &self.capture else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let mut name = |field: String, store_as: &str, push: &mut dyn FnMut(String, String)| {
            if !is_param_name(store_as) {
                push(
                    field,
                    format!("`{store_as}` is not a parameter name (letters, digits, `_`)"),
                );
            }
            names.push(store_as.to_owned());
        };
        for (i, c) in capture.cookies.iter().enumerate() {
            if c.name.trim().is_empty() {
                push(
                    format!("capture.cookies[{i}].name"),
                    "must not be empty".into(),
                );
            }
            name(format!("capture.cookies[{i}].store_as"), &c.store_as, push);
        }
        for (i, s) in capture.storage.iter().enumerate() {
            if s.key.is_empty() {
                push(
                    format!("capture.storage[{i}].key"),
                    "must not be empty".into(),
                );
            }
            name(format!("capture.storage[{i}].store_as"), &s.store_as, push);
        }
        names.extend(capture.static_headers.keys().cloned());
        names
    }

    /// Every `inject_into` names a step that exists and a place in it that takes a value.
    fn inject_problems(&self, push: &mut impl FnMut(String, String)) {
        for (i, p) in self.parameters.iter().enumerate() {
            let Some(path) = &p.inject_into else { continue };
            let field = format!("parameters[{i}].inject_into");
            let parsed = match parse_path(path) {
                Ok(parsed) => parsed,
                Err(message) => {
                    push(field, message);
                    continue;
                }
            };
            let Some(step) = self.steps.get(parsed.step) else {
                push(
                    field,
                    format!(
                        "`{path}` points at step {} but the playbook has {} (steps count from 0)",
                        parsed.step,
                        self.steps.len()
                    ),
                );
                continue;
            };
            let placeholder = Value::String(format!("<{}>", p.name));
            let fits = set_in_step(step, &parsed.inside, placeholder).and_then(|s| {
                let selector = s.selector.as_ref().map(|c| c.candidates()[0].to_owned());
                s.action_with(selector.as_deref())
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = fits {
                push(field, format!("`{path}` is not a place for a value: {e}"));
            }
        }
    }

    /// The parameter values for a run: the request's, checked against the declarations, plus
    /// defaults. Problems name `driver.params.<name>`.
    pub(crate) fn resolve_params(
        &self,
        given: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Value>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut values = BTreeMap::new();
        for name in given.keys() {
            if !self.parameters.iter().any(|p| &p.name == name) {
                errors.push(FieldError {
                    field: format!("driver.params.{name}"),
                    message: format!("playbook `{}` takes no parameter `{name}`", self.id),
                });
            }
        }
        for p in &self.parameters {
            let field = format!("driver.params.{}", p.name);
            let Some(value) = given.get(&p.name).or(p.default.as_ref()) else {
                if p.required {
                    errors.push(FieldError {
                        field,
                        message: format!("required by playbook `{}`: {}", self.id, p.description),
                    });
                }
                continue;
            };
            match check_param(p, value) {
                Ok(v) => {
                    values.insert(p.name.clone(), v);
                }
                Err(message) => errors.push(FieldError { field, message }),
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }
}

/// The declared parameters' names, patterns and duplicates; returns the names declared.
fn parameter_problems(
    parameters: &[Parameter],
    push: &mut impl FnMut(String, String),
) -> Vec<String> {
    let mut known: Vec<String> = Vec::new();
    for (i, p) in parameters.iter().enumerate() {
        if !is_param_name(&p.name) {
            push(
                format!("parameters[{i}].name"),
                "must be letters, digits and `_`".into(),
            );
        }
        if known.contains(&p.name) {
            push(
                format!("parameters[{i}].name"),
                format!("`{}` is declared twice", p.name),
            );
        }
        if let Some(pattern) = &p.pattern
            && let Err(e) = regex::Regex::new(pattern)
        {
            push(
                format!("parameters[{i}].pattern"),
                format!("is not a valid regex: {e}"),
            );
        }
        known.push(p.name.clone());
    }
    known
}

/// One step at `at`: a known action, known parameters, sound selectors, fields that parse, a
/// verification that checks something.
fn step_problems(at: &str, step: &Step, known: &[String], push: &mut impl FnMut(String, String)) {
    // A step is one action: every action but `sequence`, or the reference's `key_press`.
    if step.action != KEY_PRESS
        && !ActionKind::from_name(&step.action).is_some_and(ActionKind::is_single)
    {
        let mut names = ActionKind::single_names();
        names.push(KEY_PRESS);
        push(
            format!("{at}.action"),
            format!(
                "unknown action `{}`; use one of {}",
                step.action,
                names.join(", ")
            ),
        );
        return;
    }
    unknown_parameters(at, step, known, push);
    if let Some(selector) = &step.selector {
        selector_problems(at, selector, push);
    }
    // The action must parse with its fields (parameters stand in as placeholders).
    let selector = step.selector.as_ref().map(|s| s.candidates()[0].to_owned());
    match step.action_with(selector.as_deref()) {
        Ok(action) => own_step_problems(at, &action, push),
        Err(e) => {
            let field = if e.field.is_empty() {
                at.to_owned()
            } else {
                format!("{at}.{}", e.field)
            };
            push(field, e.message);
        }
    }
    if let Some(verify) = &step.verify {
        verify_problems(at, verify, push);
    }
}

/// What serde cannot check of the steps the orchestrator runs itself: an `api_request`'s
/// `json_path`, an `llm_extract`'s prompt and schema.
fn own_step_problems(at: &str, action: &Action, push: &mut impl FnMut(String, String)) {
    match action {
        Action::ApiRequest { request, .. } => {
            let field = format!("{at}.request.response.path");
            match (request.response.mode, request.response.path.as_deref()) {
                (ResponseMode::JsonPath, None) => push(
                    field,
                    "mode json_path needs a path, such as `data.items[0].id`".into(),
                ),
                (ResponseMode::JsonPath, Some(path)) => {
                    if let Err(e) = crate::api_call::JsonPath::parse(path) {
                        push(field, e);
                    }
                }
                _ => {}
            }
        }
        Action::LlmExtract { prompt, schema, .. } => {
            if prompt.trim().is_empty() {
                push(
                    format!("{at}.prompt"),
                    "must not be empty; say what to extract".into(),
                );
            }
            if let Some(Err(e)) = schema.as_ref().map(jsonschema::validator_for) {
                push(
                    format!("{at}.schema"),
                    format!("is not a valid JSON Schema: {e}"),
                );
            }
        }
        _ => {}
    }
}

/// `{name}`s in the step's fields, selectors and checks that are neither declared nor stored by
/// an earlier step.
fn unknown_parameters(
    at: &str,
    step: &Step,
    known: &[String],
    push: &mut impl FnMut(String, String),
) {
    let mut refs = Vec::new();
    references(&Value::Object(step.params.clone()), &mut refs);
    if let Some(sel) = &step.selector {
        for c in sel.candidates() {
            references(&Value::String(c.to_owned()), &mut refs);
        }
    }
    if let Some(v) = &step.verify {
        references(&serde_json::to_value(v).unwrap_or_default(), &mut refs);
    }
    for r in refs.iter().filter(|r| !known.contains(r)) {
        push(
            at.to_owned(),
            format!(
                "unknown parameter `{{{r}}}`: declare it under parameters or store_as it in an earlier step"
            ),
        );
    }
}

/// The fallbacks, then the primary selector.
fn selector_problems(at: &str, selector: &SelectorSpec, push: &mut impl FnMut(String, String)) {
    if let SelectorSpec::Full { fallbacks, .. } = selector {
        for (j, f) in fallbacks.iter().enumerate() {
            if let Err(m) = check_selector(f) {
                push(format!("{at}.selector.fallbacks[{j}]"), m);
            }
        }
    }
    let (field, primary) = match selector {
        SelectorSpec::Plain(s) => (format!("{at}.selector"), s),
        SelectorSpec::Full { primary, .. } => (format!("{at}.selector.primary"), primary),
    };
    if let Err(m) = check_selector(primary) {
        push(field, m);
    }
}

/// A verification names at least one check and a usable bound.
fn verify_problems(at: &str, v: &Verify, push: &mut impl FnMut(String, String)) {
    let none = v.url_contains.is_none()
        && v.element_visible.is_none()
        && v.element_gone.is_none()
        && v.text_on_page.is_none();
    if none {
        push(
            format!("{at}.verify"),
            "names no check; give url_contains, element_visible, element_gone or text_on_page"
                .into(),
        );
    }
    let elements = [
        ("element_visible", &v.element_visible),
        ("element_gone", &v.element_gone),
    ];
    for (name, selector) in elements {
        if let Some(Err(m)) = selector.as_deref().map(check_selector) {
            push(format!("{at}.verify.{name}"), m);
        }
    }
    if v.timeout_ms == 0 {
        push(
            format!("{at}.verify.timeout_ms"),
            "must be at least 1".into(),
        );
    }
}
