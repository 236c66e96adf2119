//! The request's `session` field: a saved browser session (cookies and per-origin
//! localStorage) restored before the run's first action, and/or saved when the run completes.
//! Data only: the store is `sessions.rs`, restoring and saving `sessions/browser.rs`.

use serde::{Deserialize, Serialize};

impl SessionSpec {
    /// True when the request names no session (the field is then left out when serialized).
    pub fn is_empty(&self) -> bool {
        self.load.is_none() && self.save.is_none()
    }
}

/// `"session": {"load": "ID", "save": "ID"}`; ids are `[A-Za-z0-9_-]{1,64}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    /// Restores this saved session before the first action (a missing, corrupt or tampered
    /// session refuses the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<String>,
    /// Saves the run's cookies and localStorage under this id when the run completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
}
