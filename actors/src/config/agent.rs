//! The `[agent]` section: the model endpoint agent runs call, and the loop's bounds.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::request::ReasoningEffort;

/// Agent runs: which OpenAI-compatible Chat Completions endpoint to call, and the loop's bounds.
/// A request's `driver` may override `base_url`, `model` and `max_steps`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// The API base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1` (vLLM,
    /// Ollama, llama.cpp server, a gateway); `/chat/completions` is appended.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (sent as a Bearer token when set), to
    /// `base_url` and `allowed_base_urls` only.
    pub api_key_env: String,
    /// Other endpoints a request's `base_url` may name and still be sent the host's key; a
    /// request naming any endpoint not listed here must bring its own `api_key`.
    pub allowed_base_urls: Vec<String>,
    /// The model used when a request names none.
    pub model: Option<String>,
    /// Tool calls an agent may make before the run ends with `MAX_STEPS`.
    pub max_steps: u32,
    /// Bound on one model call.
    pub call_timeout_ms: u64,
    /// Retries of a call answered 429 or 5xx (or lost on the network).
    pub retries: u32,
    /// First pause before a retry; doubled after each (a `Retry-After` header wins, up to 10 s).
    pub retry_backoff_ms: u64,
    /// Consecutive failed calls to one endpoint that open its circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker refuses calls before letting one through (half-open).
    pub breaker_cooldown_ms: u64,
    /// Latest exchanges (a model turn and its tool results) kept whole in the prompt.
    pub keep_recent_exchanges: usize,
    /// Older tool results are cut to this many characters (page snapshots are dropped).
    pub older_result_chars: usize,
    /// Tool calls the agent gets when it takes over a failed playbook step.
    pub recovery_max_steps: u32,
    /// Screenshots go to the model as image parts (a request's `vision` wins).
    pub vision: bool,
    /// Screenshots kept as images in the prompt; older ones become a marker.
    pub keep_images: usize,
    /// `reasoning_effort` sent with every model call (a request's wins); unset: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// After an action that navigated, its result carries a compact map of the new page.
    pub page_map: bool,
    /// Where named profiles live: `<profiles_dir>/<name>.yaml`, the reference's format.
    pub profiles_dir: PathBuf,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key_env: "OPENAI_API_KEY".into(),
            allowed_base_urls: Vec::new(),
            model: None,
            max_steps: 30,
            call_timeout_ms: 60_000,
            retries: 2,
            retry_backoff_ms: 500,
            breaker_threshold: 3,
            breaker_cooldown_ms: 30_000,
            keep_recent_exchanges: 3,
            older_result_chars: 300,
            recovery_max_steps: 20,
            vision: false,
            keep_images: 2,
            reasoning_effort: None,
            page_map: true,
            profiles_dir: PathBuf::from("config/profiles"),
        }
    }
}
