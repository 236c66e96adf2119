//! What a saved session holds: the cookies of a run's browser context and the localStorage of
//! the origins it visited. Data only, exchanged at the browser seam (`PageDriver::storage_state`
//! / `restore_storage`) and kept by the session store (`sessions.rs`). Every value is a secret:
//! `Debug` shows counts, never a value.

use std::fmt;

use serde::{Deserialize, Serialize};

impl StorageState {
    /// Every value it holds, named for the scrubber's marks (`session cookie sid`).
    pub(crate) fn secrets(&self) -> Vec<(String, &str)> {
        let cookies = self
            .cookies
            .iter()
            .map(|c| (format!("session cookie {}", c.name), c.value.as_str()));
        let storage = self.origins.iter().flat_map(|o| {
            o.local_storage
                .iter()
                .map(|i| (format!("session storage {}", i.name), i.value.as_str()))
        });
        cookies.chain(storage).collect()
    }
}

impl fmt::Debug for StorageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageState")
            .field("cookies", &self.cookies.len())
            .field("origins", &self.origins.len())
            .finish()
    }
}

/// Cookies and per-origin localStorage, as Playwright's `storage_state` holds them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageState {
    /// The browser context's cookies.
    pub cookies: Vec<StoredCookie>,
    /// localStorage, per origin (`http://127.0.0.1:8080`).
    pub origins: Vec<OriginStorage>,
}

/// One cookie.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCookie {
    /// Its name.
    pub name: String,
    /// Its value (a secret).
    pub value: String,
    /// `example.com` (host-only) or `.example.com` (the domain and its subdomains).
    pub domain: String,
    /// Its path.
    pub path: String,
    /// Seconds since the epoch; `None`: a session cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<f64>,
    /// Hidden from scripts.
    #[serde(default)]
    pub http_only: bool,
    /// Sent over HTTPS only.
    #[serde(default)]
    pub secure: bool,
    /// `Strict`, `Lax` or `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
}

/// One origin's localStorage.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginStorage {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// Its entries.
    pub local_storage: Vec<StorageItem>,
}

/// One localStorage entry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageItem {
    /// The key.
    pub name: String,
    /// The value (a secret).
    pub value: String,
}
