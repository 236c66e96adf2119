//! The `api_request` action's call: an HTTP request the orchestrator sends itself (not the
//! page), spelled as the reference's playbooks spell it under `request:` — `method`, `url`,
//! `query`, `headers`, `cookies`, `json`, `form`, `timeout_ms`, `response: {mode, path}`.
//! Data only: sending it, with the guardrails on every hop, is `api_call.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `timeout_ms`'s default, as in the reference.
fn default_timeout_ms() -> u64 {
    10_000
}

fn default_method() -> String {
    "GET".into()
}

impl ApiCall {
    /// The credential names its headers take their values from.
    pub fn credential_names(&self) -> impl Iterator<Item = &str> {
        self.headers.values().filter_map(|v| match v {
            HeaderValue::Credential { credential_ref } => Some(credential_ref.as_str()),
            HeaderValue::Text(_) => None,
        })
    }
}

impl ResponseMode {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::JsonPath => "json_path",
        }
    }
}

/// One HTTP call. Query, form and header values may be any JSON scalar (written as text).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiCall {
    /// GET (default), POST, PUT, PATCH, DELETE, HEAD or OPTIONS.
    #[serde(default = "default_method")]
    pub method: String,
    /// An absolute http(s) URL; the guardrails check it and every redirect hop.
    pub url: String,
    /// Added to the URL's query string.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, Value>,
    /// Request headers: a text value, or `{credential_ref: NAME}` for a secret of the
    /// request's `credentials` (never evented, logged or recorded).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderValue>,
    /// Cookies to send: `true` (the run's browser cookies for the URL), a list of their
    /// names (only those), or a map of names to values (the reference's spelling).
    #[serde(default, skip_serializing_if = "ApiCookies::is_none")]
    pub cookies: ApiCookies,
    /// A JSON body (exclusive with `form`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A form body, `application/x-www-form-urlencoded` (exclusive with `json`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub form: BTreeMap<String, Value>,
    /// Bound on the whole call, redirects included (default 10000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// What the step returns.
    #[serde(default)]
    pub response: ApiResponse,
}

/// A header's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// Sent as written.
    Text(String),
    /// The value of one of the request's `credentials`.
    Credential {
        /// The credential's name.
        credential_ref: String,
    },
}

/// Which cookies an `api_request` sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ApiCookies {
    /// `true`: every cookie the run's browser holds for the URL; `false` (default): none.
    Browser(bool),
    /// Only the browser's cookies with these names.
    Names(Vec<String>),
    /// These values, by name (secrets: never serialized, logged or recorded).
    Values(BTreeMap<String, super::Secret>),
}

impl Default for ApiCookies {
    fn default() -> Self {
        Self::Browser(false)
    }
}

impl ApiCookies {
    /// True when no cookie is sent.
    pub fn is_none(&self) -> bool {
        matches!(self, Self::Browser(false))
    }
}

/// What an `api_request` returns (and keeps under `store_as`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiResponse {
    /// `text` (default), `json` or `json_path`.
    #[serde(default)]
    pub mode: ResponseMode,
    /// For `json_path`: a dotted path with indexes, `data.items[0].id` (the reference's
    /// `json_path` and `data.items.0.id` also work).
    #[serde(default, alias = "json_path", skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// How an `api_request`'s response body is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// The body as text.
    #[default]
    Text,
    /// The body parsed as JSON.
    Json,
    /// One value of the JSON body, found by `response.path`.
    JsonPath,
}
