//! The `api_request` step: an HTTP call the orchestrator sends itself, not the page. The run's
//! guardrails hold on the URL and on every redirect hop (`api_call/hops.rs`: followed by hand,
//! at most [`MAX_REDIRECTS`]): scheme, domain scope, private networks — with the DNS pinning the
//! run's proxy uses (each host resolved once by the guard, every address checked, and the
//! connection made only to a checked address). Browser cookies and header secrets go only to
//! the URL's own origin; a redirect elsewhere drops them.
//!
//! What comes back is capped (`[limits] max_result_bytes`) and scrubbed (the run's scrubber,
//! plus the cookie values this call sent) before anything keeps or events it.

use std::collections::BTreeMap;

use serde_json::Value;
use url::Url;

use crate::guard::{Block, Guard};
use crate::page_driver::ActionOutput;
use crate::request::{ApiCall, ApiCookies, HeaderValue, ResponseMode, Secret};
use crate::scrub::Scrubber;

mod hops;
mod json_path;

pub(crate) use json_path::JsonPath;

/// Redirects an `api_request` follows before it fails.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// Sends `call`; `browser_cookies` are the run's cookies for the call's URL (name, value), read
/// from the browser when the call asks for them.
pub(crate) async fn send(
    ctx: &ApiContext<'_>,
    call: &ApiCall,
    browser_cookies: Vec<(String, String)>,
) -> Result<ActionOutput, ApiError> {
    let prepared = prepare(ctx, call, browser_cookies)?;
    let response = hops::follow(ctx, &prepared).await?;
    let scrubber = call_scrubber(&prepared);
    let scrub = |text: &str| scrubber.scrub(&ctx.scrubber.scrub(text));
    let body = String::from_utf8_lossy(&response.body).into_owned();
    if !response.status.is_success() {
        return Err(ApiError::Failed(format!(
            "HTTP {} from {}: {}",
            response.status,
            scrub(&response.url),
            crate::request::clip(&scrub(&body), 300)
        )));
    }
    let value = read_body(call, &body).map_err(ApiError::Failed)?;
    let value = scrubber.scrub_value(ctx.scrubber.scrub_value(value));
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(ActionOutput {
        text,
        value: Some(value),
        ..ActionOutput::default()
    })
}

/// True when the call sends the browser's cookies (all, or those it names).
pub(crate) fn wants_browser_cookies(call: &ApiCall) -> bool {
    matches!(
        call.cookies,
        ApiCookies::Browser(true) | ApiCookies::Names(_)
    )
}

/// The body as `response.mode` asks: text, JSON, or one value of the JSON.
fn read_body(call: &ApiCall, body: &str) -> Result<Value, String> {
    if call.response.mode == ResponseMode::Text {
        return Ok(Value::String(body.to_owned()));
    }
    let parsed: Value = serde_json::from_str(body).map_err(|e| {
        format!("the response is not JSON ({e}); use `response.mode: text` to keep it as text")
    })?;
    if call.response.mode == ResponseMode::Json {
        return Ok(parsed);
    }
    let path = call.response.path.as_deref().unwrap_or_default();
    let path = JsonPath::parse(path).map_err(|e| format!("request.response.path: {e}"))?;
    path.find(&parsed)
        .cloned()
        .map_err(|e| format!("request.response.path: {e} in the response"))
}

/// The call's URL with its query, method, headers (secrets resolved), cookie header and body.
fn prepare(
    ctx: &ApiContext<'_>,
    call: &ApiCall,
    browser_cookies: Vec<(String, String)>,
) -> Result<Prepared, ApiError> {
    let mut url = Url::parse(&call.url)
        .map_err(|e| ApiError::Failed(format!("request.url: not a valid URL ({e})")))?;
    if !call.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (key, value) in &call.query {
            pairs.append_pair(key, &scalar_text(value));
        }
    }
    let method =
        reqwest::Method::from_bytes(call.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            ApiError::Failed(format!("request.method: `{}` is not a method", call.method))
        })?;
    let mut secrets = BTreeMap::new();
    let headers = headers(ctx, call, &mut secrets)?;
    let cookies = cookies(call, browser_cookies, &mut secrets)?;
    let body = match (&call.json, call.form.is_empty()) {
        (Some(json), _) => Some(("application/json", json.to_string().into_bytes())),
        (None, false) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in &call.form {
                form.append_pair(key, &scalar_text(value));
            }
            Some((
                "application/x-www-form-urlencoded",
                form.finish().into_bytes(),
            ))
        }
        (None, true) => None,
    };
    Ok(Prepared {
        url,
        method,
        headers,
        cookie_header: cookies,
        body,
        secrets,
    })
}

/// The request headers; a credential's value is kept in `secrets` too (for the scrub).
fn headers(
    ctx: &ApiContext<'_>,
    call: &ApiCall,
    secrets: &mut BTreeMap<String, Secret>,
) -> Result<reqwest::header::HeaderMap, ApiError> {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in &call.headers {
        let field = format!("request.headers.{name}");
        let text = match value {
            HeaderValue::Text(text) => text.clone(),
            HeaderValue::Credential { credential_ref } => {
                let secret = ctx.credentials.get(credential_ref).ok_or_else(|| {
                    ApiError::Failed(format!("{field}: no credential named `{credential_ref}`"))
                })?;
                secrets.insert(credential_ref.clone(), secret.clone());
                secret.expose().to_owned()
            }
        };
        let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::Failed(format!("{field}: not a valid header name")))?;
        // The value is never quoted: it may be a secret.
        let value = reqwest::header::HeaderValue::from_str(&text).map_err(|_| {
            ApiError::Failed(format!(
                "{field}: the value has characters a header cannot carry"
            ))
        })?;
        map.insert(header, value);
    }
    Ok(map)
}

/// The `Cookie` header: the browser's cookies (all, or those named) or the given values.
fn cookies(
    call: &ApiCall,
    browser: Vec<(String, String)>,
    secrets: &mut BTreeMap<String, Secret>,
) -> Result<Option<String>, ApiError> {
    let chosen: Vec<(String, String)> = match &call.cookies {
        ApiCookies::Browser(false) => return Ok(None),
        ApiCookies::Browser(true) => browser,
        ApiCookies::Names(names) => {
            let mut chosen = Vec::new();
            for name in names {
                let found = browser.iter().find(|(n, _)| n == name).ok_or_else(|| {
                    ApiError::Failed(format!(
                        "request.cookies: the browser holds no cookie `{name}` for {}",
                        host_of(&call.url)
                    ))
                })?;
                chosen.push(found.clone());
            }
            chosen
        }
        ApiCookies::Values(values) => values
            .iter()
            .map(|(n, v)| (n.clone(), v.expose().to_owned()))
            .collect(),
    };
    for (name, value) in &chosen {
        secrets.insert(format!("cookie {name}"), Secret::new(value.clone()));
    }
    let header: Vec<String> = chosen.iter().map(|(n, v)| format!("{n}={v}")).collect();
    Ok((!header.is_empty()).then(|| header.join("; ")))
}

fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A query or form value as text: a string as it is, anything else as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A scrubber for what this call sent: its cookie values and header secrets.
fn call_scrubber(prepared: &Prepared) -> Scrubber {
    Scrubber::new(&prepared.secrets)
}

/// What an `api_request` needs from its run.
pub(crate) struct ApiContext<'a> {
    /// The run's destination checks (the proxy's own).
    pub(crate) guard: &'a Guard,
    /// The request's `credentials`, for `{credential_ref}` headers.
    pub(crate) credentials: &'a BTreeMap<String, Secret>,
    /// The run's scrubber.
    pub(crate) scrubber: &'a Scrubber,
    /// The most body bytes read (`[limits] max_result_bytes`).
    pub(crate) max_body_bytes: usize,
}

/// Why an `api_request` failed.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A guardrail refused `target` (the URL or a redirect hop); nothing was sent there.
    Blocked {
        /// What refused it.
        block: Block,
        /// The refused URL.
        target: String,
    },
    /// Anything else, with a message that names the field or the cause.
    Failed(String),
}

/// A call ready to send.
struct Prepared {
    url: Url,
    method: reqwest::Method,
    headers: reqwest::header::HeaderMap,
    cookie_header: Option<String>,
    body: Option<(&'static str, Vec<u8>)>,
    /// Values this call sends that must not come back out: header credentials, cookies.
    secrets: BTreeMap<String, Secret>,
}

/// The final response: its status, URL (without its query) and (capped) body.
struct Response {
    status: reqwest::StatusCode,
    url: String,
    body: Vec<u8>,
}
