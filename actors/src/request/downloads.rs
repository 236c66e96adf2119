//! A request's `downloads`: whether the run may keep files a page downloads, and how large one
//! may grow. Refused by default; `[limits] max_download_bytes` bounds what a request may ask
//! for (0 forbids downloads on the server: checked in `admit/downloads.rs`).

use serde::{Deserialize, Serialize};

/// A request's `downloads`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadSpec {
    /// Keep files the page downloads, in the run's recording (default: every download refused).
    #[serde(default)]
    pub allow: bool,
    /// A download is cancelled, its partial file removed, once it passes this many bytes.
    /// Unset: the server's `[limits] max_download_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

impl DownloadSpec {
    /// True when the request did not mention downloads.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
