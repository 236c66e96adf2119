//! The model client: one OpenAI-compatible Chat Completions call at a time, with a per-call
//! timeout, retries with backoff on 429, 5xx and network errors, and a circuit breaker per
//! endpoint shared by every run of the orchestrator (open after `breaker_threshold` failed
//! calls in a row, one trial call after `breaker_cooldown_ms`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::AgentConfig;
use crate::run::TokenUsage;

mod endpoint;

pub(crate) use endpoint::endpoint_for;

/// Longest pause a `Retry-After` header may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Longest error body quoted in a message.
const ERROR_BODY_CHARS: usize = 300;

/// Shared by every agent run of an orchestrator (one breaker per endpoint).
pub(crate) type SharedLlm = Arc<LlmClient>;

/// Where one run's model calls go.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// `…/v1`, without a trailing slash.
    pub(crate) base_url: String,
    pub(crate) model: String,
    pub(crate) api_key: Option<String>,
    /// Sent as `reasoning_effort` when set.
    pub(crate) reasoning_effort: Option<&'static str>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// One tool call the model asked for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The raw JSON text of the arguments, as the model wrote it.
    pub(crate) arguments: String,
}

/// The model's reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Reply {
    pub(crate) content: Option<String>,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) usage: TokenUsage,
}

/// Why a call produced no reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LlmError {
    /// The call failed (after its retries); the breaker counted it.
    #[error("{0}")]
    Failed(String),
    /// The endpoint's breaker is open: no call was made.
    #[error("{0}")]
    CircuitOpen(String),
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// Calls models; shared by every agent run of an orchestrator.
pub(crate) struct LlmClient {
    http: reqwest::Client,
    config: AgentConfig,
    breakers: DashMap<String, Arc<Mutex<Breaker>>>,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct WireReply {
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
}

enum Attempt {
    Done(Reply),
    Retry(String, Option<Duration>),
    Fatal(String),
}

impl LlmClient {
    pub(crate) fn new(config: AgentConfig) -> Self {
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            config,
            breakers: DashMap::new(),
        }
    }

    fn breaker(&self, endpoint: &Endpoint) -> Arc<Mutex<Breaker>> {
        self.breakers
            .entry(endpoint.base_url.clone())
            .or_default()
            .clone()
    }

    /// One completion: messages and tools in, the model's reply out.
    pub(crate) async fn complete(
        &self,
        endpoint: &Endpoint,
        messages: &[Value],
        tools: &[Value],
    ) -> Result<Reply, LlmError> {
        let breaker = self.breaker(endpoint);
        self.admit(&breaker, endpoint)?;
        let mut body = json!({
            "model": endpoint.model,
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
        });
        if let Some(effort) = endpoint.reasoning_effort {
            body["reasoning_effort"] = json!(effort);
        }
        let mut pause = Duration::from_millis(self.config.retry_backoff_ms);
        let mut last = String::new();
        for attempt in 0..=self.config.retries {
            match self.attempt(endpoint, &body).await {
                Attempt::Done(reply) => {
                    *lock(&breaker) = Breaker::default();
                    metrics::counter!("pilothouse_llm_calls_total", "outcome" => "ok").increment(1);
                    return Ok(reply);
                }
                Attempt::Fatal(message) => {
                    last = message;
                    break;
                }
                Attempt::Retry(message, after) => {
                    last = message;
                    if attempt < self.config.retries {
                        let wait = after.unwrap_or(pause).min(MAX_RETRY_AFTER);
                        tracing::warn!(attempt = attempt + 1, error = %last, ?wait, "model call failed; retrying");
                        tokio::time::sleep(wait).await;
                        pause *= 2;
                    }
                }
            }
        }
        metrics::counter!("pilothouse_llm_calls_total", "outcome" => "failed").increment(1);
        let mut b = lock(&breaker);
        b.consecutive_failures += 1;
        b.trial_in_flight = false;
        if b.opened_at.is_some() || b.consecutive_failures >= self.config.breaker_threshold {
            b.opened_at = Some(Instant::now());
        }
        Err(LlmError::Failed(format!(
            "model call to {} failed: {last}",
            endpoint.base_url
        )))
    }

    /// Refuses at once while the breaker is open; lets one trial call through after the
    /// cooldown (half-open).
    fn admit(&self, breaker: &Mutex<Breaker>, endpoint: &Endpoint) -> Result<(), LlmError> {
        let mut b = lock(breaker);
        let Some(opened) = b.opened_at else {
            return Ok(());
        };
        let cooldown = Duration::from_millis(self.config.breaker_cooldown_ms);
        if opened.elapsed() >= cooldown && !b.trial_in_flight {
            b.trial_in_flight = true;
            return Ok(());
        }
        let left = cooldown.saturating_sub(opened.elapsed());
        Err(LlmError::CircuitOpen(format!(
            "circuit breaker open for {} after {} failed calls in a row; next trial in {} s",
            endpoint.base_url,
            b.consecutive_failures,
            left.as_secs()
        )))
    }

    async fn attempt(&self, endpoint: &Endpoint, body: &Value) -> Attempt {
        let url = format!(
            "{}/chat/completions",
            endpoint.base_url.trim_end_matches('/')
        );
        let mut request = self
            .http
            .post(&url)
            .timeout(Duration::from_millis(self.config.call_timeout_ms))
            .json(body);
        if let Some(key) = &endpoint.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(
                    format!("no answer within {} ms", self.config.call_timeout_ms),
                    None,
                );
            }
            Err(e) => return Attempt::Retry(format!("cannot reach {url}: {e}"), None),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => return Attempt::Retry(format!("reading the reply: {e}"), None),
        };
        if status.as_u16() == 429 || status.is_server_error() {
            return Attempt::Retry(
                format!(
                    "HTTP {status}: {}",
                    crate::request::clip(&text, ERROR_BODY_CHARS)
                ),
                retry_after,
            );
        }
        if !status.is_success() {
            return Attempt::Fatal(format!(
                "HTTP {status}: {}",
                crate::request::clip(&text, ERROR_BODY_CHARS)
            ));
        }
        match parse_reply(&text) {
            Ok(reply) => Attempt::Done(reply),
            Err(e) => Attempt::Retry(e, None),
        }
    }
}

fn lock(breaker: &Mutex<Breaker>) -> std::sync::MutexGuard<'_, Breaker> {
    breaker.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads a Chat Completions reply. Arguments may arrive as a JSON string (the standard) or as
/// an object (some servers); both become the raw text the driver parses.
fn parse_reply(text: &str) -> Result<Reply, String> {
    let wire: WireReply = serde_json::from_str(text).map_err(|e| {
        format!(
            "unreadable reply ({e}): {}",
            crate::request::clip(text, ERROR_BODY_CHARS)
        )
    })?;
    let choice = wire
        .choices
        .into_iter()
        .next()
        .ok_or("the reply has no choices")?;
    let tool_calls = choice
        .message
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| ToolCall {
            id: if call.id.is_empty() {
                format!("call_{i}")
            } else {
                call.id
            },
            name: call.function.name,
            arguments: match call.function.arguments {
                Value::String(s) => s,
                Value::Null => "{}".into(),
                other => other.to_string(),
            },
        })
        .collect();
    let usage = wire.usage.map_or(TokenUsage::default(), |u| TokenUsage {
        calls: 1,
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens.max(u.prompt_tokens + u.completion_tokens),
    });
    Ok(Reply {
        content: choice.message.content,
        tool_calls,
        usage: TokenUsage { calls: 1, ..usage },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_with_string_or_object_arguments_parse() {
        let reply = parse_reply(
            r#"{"choices":[{"message":{"content":null,"tool_calls":[
                {"id":"a","type":"function","function":{"name":"browser","arguments":"{\"action\":\"observe\"}"}},
                {"type":"function","function":{"name":"done","arguments":{"answer":"x"}}}]}}],
              "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#,
        )
        .unwrap();
        assert_eq!(reply.tool_calls[0].arguments, r#"{"action":"observe"}"#);
        assert_eq!(reply.tool_calls[1].id, "call_1");
        assert_eq!(reply.tool_calls[1].arguments, r#"{"answer":"x"}"#);
        assert_eq!(reply.usage.total_tokens, 15);
        assert!(parse_reply(r#"{"choices":[]}"#).is_err());
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_and_half_opens_after_the_cooldown() {
        let client = LlmClient::new(AgentConfig {
            breaker_cooldown_ms: 50,
            ..AgentConfig::default()
        });
        let endpoint = Endpoint {
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            api_key: None,
            reasoning_effort: None,
        };
        let breaker = client.breaker(&endpoint);
        {
            let mut b = lock(&breaker);
            b.consecutive_failures = 3;
            b.opened_at = Some(Instant::now());
        }
        let refused = client.admit(&breaker, &endpoint).unwrap_err();
        assert!(
            refused.to_string().contains("after 3 failed calls"),
            "{refused}"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(client.admit(&breaker, &endpoint).is_ok(), "one trial call");
        assert!(client.admit(&breaker, &endpoint).is_err(), "only one");
    }
}
