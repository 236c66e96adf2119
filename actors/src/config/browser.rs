//! `[browser]`: how runs get their browser — a fresh context in a warm, shared Chromium
//! (`isolation = "context"`, the default) or a Chromium of their own (`"process"`) — and how
//! the warm pool is sized and recycled.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::request::Isolation;

/// The browser pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserConfig {
    /// The isolation of runs whose request does not choose one.
    pub isolation: Isolation,
    /// Warm Chromium processes the pool keeps for context runs.
    pub pool_processes: usize,
    /// Contexts kept open and waiting (each with a blank page and its own proxy), so a run's
    /// first action does not wait for one. 0: every context is made when its run starts.
    pub spare_contexts: usize,
    /// A process is replaced after serving this many contexts (0: never for this reason).
    pub recycle_after_contexts: u32,
    /// A process whose processes together use more than this (proportional set size, MiB) is
    /// replaced once its runs end (0: never for this reason).
    pub max_process_mb: u64,
    /// DevTools endpoints (`ws://HOST:PORT/devtools/browser/…`) of Chromiums Pilothouse did
    /// not launch — a browser fleet, a container. When set, the pool serves contexts from these
    /// (one connection each, `pool_processes` ignored) instead of launching its own.
    pub connect: Vec<String>,
    /// The address the per-context proxies listen on, which the browsers must reach: loopback
    /// for browsers on this machine; for `connect`, an address the remote browser can reach.
    /// Each proxy serves one context on its own port and only connections from the remote's
    /// own addresses.
    pub proxy_bind: IpAddr,
}

impl Default for BrowserConfig {
    fn default() -> Self {
        Self {
            isolation: Isolation::Context,
            pool_processes: 2,
            spare_contexts: 2,
            recycle_after_contexts: 100,
            max_process_mb: 2_048,
            connect: Vec::new(),
            proxy_bind: IpAddr::from([127, 0, 0, 1]),
        }
    }
}

impl BrowserConfig {
    /// Browsers the pool keeps: one per remote endpoint, else `pool_processes`.
    pub fn pool_size(&self) -> usize {
        if self.connect.is_empty() {
            self.pool_processes
        } else {
            self.connect.len()
        }
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.pool_processes == 0 {
            return Err(ConfigError::Invalid {
                field: "browser.pool_processes",
                message: "must be at least 1 (use isolation = \"process\" for no pool)".into(),
            });
        }
        for endpoint in &self.connect {
            if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
                return Err(ConfigError::Invalid {
                    field: "browser.connect",
                    message: format!(
                        "{endpoint:?} is not a DevTools WebSocket URL; give \
                         ws://HOST:PORT/devtools/browser/ID (see /json/version on the browser)"
                    ),
                });
            }
        }
        if self.proxy_bind.is_unspecified() {
            return Err(ConfigError::Invalid {
                field: "browser.proxy_bind",
                message: "must be one address the browsers can reach, not 0.0.0.0 or ::".into(),
            });
        }
        if self.spare_contexts > 64 {
            return Err(ConfigError::Invalid {
                field: "browser.spare_contexts",
                message: "must be at most 64".into(),
            });
        }
        Ok(())
    }
}
