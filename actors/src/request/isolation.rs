//! A run's `isolation`: what it shares its browser with. Requests choose it; the config's
//! `[browser] isolation` is the default.

use serde::{Deserialize, Serialize};

/// What a run shares its browser with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// A fresh browser context (its own cookies, storage, cache, permissions, downloads and
    /// proxy) in one of the pool's warm Chromium processes.
    #[default]
    Context,
    /// A Chromium process of its own, launched for the run and ended with it.
    Process,
}

impl Isolation {
    /// The name used in config, requests and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Context => "context",
            Self::Process => "process",
        }
    }
}
