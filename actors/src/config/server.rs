//! The `[server]` section: how `pilothouse serve` listens, authenticates and shuts down. The
//! engine never reads it; it lives in `Config` so one file configures the whole binary.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::request::Secret;

/// The environment variable that supplies the API key when `[server] api_key` is unset.
pub const API_KEY_ENV: &str = "PILOTHOUSE_API_KEY";

/// `pilothouse serve`: the HTTP API over one embedded orchestrator.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on. Without an API key only loopback addresses are accepted.
    pub bind: String,
    /// The bearer token every route but `/health`, `/ready` and `/openapi.json` requires
    /// (else `PILOTHOUSE_API_KEY`). A [`Secret`]: never printed, logged or serialized.
    pub api_key: Option<Secret>,
    /// Interval of the SSE heartbeat comments that keep idle streams open through proxies.
    pub heartbeat_seconds: u64,
    /// Largest request body accepted; past it the answer is 413.
    pub max_body_bytes: usize,
    /// Origins allowed to call the API from a browser. Empty: CORS is off.
    pub cors_origins: Vec<String>,
    /// On SIGTERM, how long running runs may go on before they are cancelled.
    pub shutdown_grace_seconds: u64,
    /// The `Retry-After` a full queue answers with.
    pub retry_after_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8787".into(),
            api_key: None,
            heartbeat_seconds: 15,
            max_body_bytes: 1_048_576,
            cors_origins: Vec::new(),
            shutdown_grace_seconds: 30,
            retry_after_seconds: 2,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("bind", &self.bind)
            .field("api_key", &self.api_key.as_ref().map(|_| "******"))
            .field("heartbeat_seconds", &self.heartbeat_seconds)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("cors_origins", &self.cors_origins)
            .field("shutdown_grace_seconds", &self.shutdown_grace_seconds)
            .field("retry_after_seconds", &self.retry_after_seconds)
            .finish()
    }
}

impl ServerConfig {
    /// The API key: `api_key`, else a non-empty `PILOTHOUSE_API_KEY`.
    pub fn resolve_api_key(&self) -> Option<Secret> {
        self.api_key.clone().or_else(|| {
            std::env::var(API_KEY_ENV)
                .ok()
                .filter(|key| !key.is_empty())
                .map(Secret::new)
        })
    }

    /// Checks ranges that serde cannot; the error names the key.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.heartbeat_seconds == 0 {
            return Err(("server.heartbeat_seconds", "must be at least 1"));
        }
        if self.max_body_bytes == 0 {
            return Err(("server.max_body_bytes", "must be at least 1"));
        }
        if self.api_key.as_ref().is_some_and(|k| k.expose().is_empty()) {
            return Err((
                "server.api_key",
                "must not be empty; remove it to run without a key (loopback only)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_key_is_never_printed_or_serialized() {
        let config = Config::from_toml_str("[server]\napi_key = \"hunter2-key\"").unwrap();
        assert_eq!(
            config.server.api_key.as_ref().map(Secret::expose),
            Some("hunter2-key")
        );
        let shown = format!("{config:?} {}", serde_json::to_string(&config).unwrap());
        assert!(!shown.contains("hunter2-key"), "{shown}");
    }

    #[test]
    fn bad_server_values_name_their_key() {
        for (toml, key) in [
            ("[server]\napi_key = \"\"", "server.api_key"),
            (
                "[server]\nheartbeat_seconds = 0",
                "server.heartbeat_seconds",
            ),
            ("[server]\nmax_body_bytes = 0", "server.max_body_bytes"),
            ("[server]\nbnid = \"x\"", "bnid"),
        ] {
            let error = Config::from_toml_str(toml).unwrap_err().to_string();
            assert!(error.contains(key), "{toml}: {error}");
        }
    }
}
