//! Checks of the two steps the orchestrator runs itself: `api_request` (its URL, method, body,
//! headers' credentials, cookies, `json_path` and time bound) and `llm_extract` (its prompt and
//! schema). Each problem names its field and the fix.

use super::validate::Validator;
use crate::request::{ApiCall, ApiCookies, ResponseMode};

/// Methods an `api_request` may use.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl Validator<'_> {
    /// `api_request` at `at`.
    pub(super) fn api_request(&mut self, at: &str, call: &ApiCall, store_as: &Option<String>) {
        let at_req = format!("{at}.request");
        self.url(&format!("{at_req}.url"), &call.url);
        if !METHODS.contains(&call.method.to_ascii_uppercase().as_str()) {
            self.push(
                format!("{at_req}.method"),
                format!("`{}` is not one of {}", call.method, METHODS.join(", ")),
            );
        }
        if call.json.is_some() && !call.form.is_empty() {
            self.push(&at_req, "give `json` or `form`, not both");
        }
        for name in call.credential_names() {
            if !self.credentials.contains_key(name) {
                self.push(
                    format!("{at_req}.headers"),
                    format!("no credential named `{name}`; add it to the request's `credentials`"),
                );
            }
        }
        if let ApiCookies::Names(names) = &call.cookies
            && names.iter().any(|n| n.trim().is_empty())
        {
            self.push(
                format!("{at_req}.cookies"),
                "cookie names must not be empty",
            );
        }
        self.api_response(&at_req, call);
        let max = self.ceilings().max_action_timeout_ms;
        self.bounded(
            &format!("{at_req}.timeout_ms"),
            Some(call.timeout_ms),
            "max_action_timeout_ms",
            max,
        );
        self.store_as(format!("{at}.store_as"), store_as);
    }

    /// `response`: a `json_path` mode needs a path that parses.
    fn api_response(&mut self, at_req: &str, call: &ApiCall) {
        let field = format!("{at_req}.response.path");
        match (call.response.mode, call.response.path.as_deref()) {
            (ResponseMode::JsonPath, None) => self.push(
                field,
                "mode json_path needs a path, such as `data.items[0].id`",
            ),
            (ResponseMode::JsonPath, Some(path)) => {
                if let Err(e) = crate::api_call::JsonPath::parse(path) {
                    self.push(field, e);
                }
            }
            (_, Some(_)) => self.push(field, "is only read with `mode: json_path`"),
            (_, None) => {}
        }
    }

    /// `llm_extract` at `at`: a prompt, and a schema that compiles.
    pub(super) fn llm_extract(
        &mut self,
        at: &str,
        prompt: &str,
        schema: Option<&serde_json::Value>,
        store_as: &Option<String>,
    ) {
        if prompt.trim().is_empty() {
            self.push(
                format!("{at}.prompt"),
                "must not be empty; say what to extract",
            );
        }
        if let Some(schema) = schema
            && let Err(e) = jsonschema::validator_for(schema)
        {
            self.push(
                format!("{at}.schema"),
                format!("is not a valid JSON Schema: {e}"),
            );
        }
        self.store_as(format!("{at}.store_as"), store_as);
    }
}
