//! Downloads as data: what a run's browser does with a file a page downloads
//! ([`DownloadPolicy`], handed to the launcher) and what the run's `download` event says about
//! each one ([`Download`]).
//!
//! Denied unless the request allows them (`downloads: {allow: true, max_bytes: N}`); allowed
//! files land in the run's recording (`recording/downloads/`), so they are listed with their
//! hash in `manifest.json` and uploaded with it. The browser side is `chromium/downloads.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Where saved downloads go, inside the run's recording folder.
pub(crate) const DOWNLOADS_DIR: &str = "downloads";

/// Receives one report per download: refused, saved, cancelled or failed.
pub type DownloadSink = Arc<dyn Fn(Download) + Send + Sync>;

/// What a run's browser does with downloads.
#[derive(Clone)]
pub struct DownloadPolicy {
    /// Where saved files go and how large one may grow; `None` refuses every download.
    pub allowed: Option<AllowedDownloads>,
    /// Told about every download.
    pub on_report: DownloadSink,
}

impl Default for DownloadPolicy {
    /// Every download refused, reports dropped.
    fn default() -> Self {
        Self {
            allowed: None,
            on_report: Arc::new(|_| {}),
        }
    }
}

impl std::fmt::Debug for DownloadPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadPolicy")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// Downloads a run may keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedDownloads {
    /// The folder saved files go to (`runs/<id>/recording/downloads`).
    pub dir: PathBuf,
    /// The same folder relative to the run's directory, as events name files.
    pub dir_in_run: String,
    /// A download is cancelled, and its partial file removed, once it passes this size.
    pub max_bytes: u64,
}

/// One download, as the run's `download` event reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// What became of it.
    pub outcome: DownloadOutcome,
    /// Where it came from.
    pub url: String,
    /// The file name the site suggested.
    pub file_name: String,
    /// Bytes received (of a saved file: its size).
    pub bytes: u64,
    /// A saved file, relative to the run's directory (`recording/downloads/001-report.pdf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Lower-case hex SHA-256 of a saved file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why it was refused or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What became of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DownloadOutcome {
    /// The run does not allow downloads: nothing was written.
    Refused,
    /// Saved in the run's recording.
    Saved,
    /// Stopped at `max_bytes`; the partial file was removed.
    Cancelled,
    /// The browser failed or cancelled it, or the run ended first; nothing was kept.
    Failed,
}

impl DownloadOutcome {
    /// The name in events and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Saved => "saved",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }
}
