//! Downloads in a run's Chromium. Before the page opens, `Browser.setDownloadBehavior` says
//! `deny` (the default) or `allowAndName` into a staging folder inside the throwaway profile; a
//! watcher task then caps each allowed download, moves a finished one into the run's recording
//! with its hash, and reports every download. A `goto` whose response is a download asks it how
//! that download ended instead of waiting for a page that never loads.
//!
//! Partial files never reach the recording: they stay in the staging folder, which is removed
//! with the profile, and the one over its cap is deleted at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::browser::{
    CancelDownloadParams, DownloadProgressState, EventDownloadProgress, EventDownloadWillBegin,
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::listeners::EventStream;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::download::{AllowedDownloads, Download, DownloadOutcome, DownloadPolicy};

mod files;
mod navigation;

/// The staging folder inside the profile where Chromium writes downloads in progress.
const STAGING_DIR: &str = "downloads";

/// The staging folder of a profile (also the profile's default download folder, so nothing
/// outside the DevTools behaviour could write to `$HOME/Downloads`).
pub(super) fn staging_dir(profile: &Path) -> PathBuf {
    profile.join(STAGING_DIR)
}

/// A run's downloads: a cheap handle shared by the page's actions and the watcher task.
#[derive(Clone)]
pub(super) struct Downloads {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Downloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloads")
            .field("allowed", &self.shared.policy.allowed)
            .finish_non_exhaustive()
    }
}

impl Downloads {
    /// Sets the browser's (or, with `scope`, one context's) download behaviour and starts
    /// watching. Call before the page opens, or before a pooled context's page is handed out.
    pub(super) async fn start(
        browser: &Arc<Browser>,
        staging: PathBuf,
        policy: DownloadPolicy,
        scope: Option<Scope>,
    ) -> Result<Self, String> {
        let listen_error = |e| format!("cannot watch downloads: {e}");
        let began = browser
            .event_listener::<EventDownloadWillBegin>()
            .await
            .map_err(listen_error)?;
        let progress = browser
            .event_listener::<EventDownloadProgress>()
            .await
            .map_err(listen_error)?;
        let mut params = SetDownloadBehaviorParams::new(match policy.allowed {
            None => SetDownloadBehaviorBehavior::Deny,
            Some(_) => SetDownloadBehaviorBehavior::AllowAndName,
        });
        params.events_enabled = Some(true);
        if policy.allowed.is_some() {
            params.download_path = Some(staging.display().to_string());
        }
        params.browser_context_id = scope.as_ref().map(|s| s.context.clone());
        browser
            .execute(params)
            .await
            .map_err(|e| format!("cannot set the download behaviour: {e}"))?;
        let downloads = Self {
            shared: Arc::new(Shared {
                policy,
                staging,
                scope,
                entries: Mutex::default(),
                changed: Notify::new(),
                stop: CancellationToken::new(),
                task: Mutex::default(),
            }),
        };
        let task = tokio::spawn(watch(downloads.clone(), browser.clone(), began, progress));
        *lock(&downloads.shared.task) = Some(task);
        Ok(downloads)
    }

    /// Stops watching: a save in progress may finish within `grace`, and every download that
    /// has not ended is reported as failed. Partial files stay in the staging folder, which is
    /// removed with the profile.
    pub(super) async fn close(&self, grace: Duration) {
        self.shared.stop.cancel();
        let task = lock(&self.shared.task).take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
        }
        let unfinished: Vec<Download> = lock(&self.shared.entries)
            .iter_mut()
            .filter(|e| e.ended.is_none())
            .map(|e| {
                let report = e.report(
                    DownloadOutcome::Failed,
                    Some("the run ended before the download finished; nothing was kept".into()),
                );
                e.ended = Some(report.clone());
                report
            })
            .collect();
        for report in unfinished {
            self.report(report);
        }
    }

    /// Stops the watcher at once (the session's drop guard).
    pub(super) fn abort(&self) {
        if let Some(task) = lock(&self.shared.task).take() {
            task.abort();
        }
    }

    /// True when the download began in this run's page. Chromium reports downloads per
    /// browser: a pooled context keeps those of its own page's frames. (A download started in
    /// a popup of the run is not seen here; it is still denied or capped by the context's
    /// behaviour, but gets no event.)
    async fn is_ours(&self, ev: &EventDownloadWillBegin) -> bool {
        match &self.shared.scope {
            None => true,
            Some(scope) => scope
                .page
                .frames()
                .await
                .is_ok_and(|frames| frames.contains(&ev.frame_id)),
        }
    }

    async fn on_began(&self, ev: &EventDownloadWillBegin) {
        if !self.is_ours(ev).await {
            return;
        }
        let mut entry = Entry {
            guid: ev.guid.clone(),
            url: ev.url.clone(),
            file_name: ev.suggested_filename.clone(),
            received: 0,
            over_cap: false,
            ended: None,
        };
        let refused = self.shared.policy.allowed.is_none().then(|| {
            entry.report(
                DownloadOutcome::Refused,
                Some("this run does not allow downloads; nothing was written".into()),
            )
        });
        entry.ended = refused.clone();
        lock(&self.shared.entries).push(entry);
        if let Some(report) = refused {
            self.report(report);
        }
        self.shared.changed.notify_waiters();
    }

    /// A download's progress: its byte count and cap first, then (when it ended or just passed
    /// its cap) cancelled, saved or discarded, and reported once.
    async fn on_progress(&self, browser: &Browser, ev: &EventDownloadProgress) {
        let Some(allowed) = &self.shared.policy.allowed else {
            return;
        };
        let Some((index, over_cap)) = self.track(allowed, ev) else {
            return;
        };
        let ended = match ev.state {
            DownloadProgressState::InProgress => {
                return self.cancel_over_cap(browser, &ev.guid).await;
            }
            DownloadProgressState::Completed if !over_cap => {
                let file = ev
                    .file_path
                    .as_ref()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| self.shared.staging.join(&ev.guid));
                self.save(allowed, index, &file).await
            }
            _ => self.drop_partial(allowed, index, over_cap, ev).await,
        };
        lock(&self.shared.entries)[index].ended = Some(ended.clone());
        self.report(ended);
        self.shared.changed.notify_waiters();
    }

    /// Counts a download's bytes against its cap. `Some((index, over_cap))` when there is
    /// something to do: it ended, or it just passed `max_bytes`.
    fn track(
        &self,
        allowed: &AllowedDownloads,
        ev: &EventDownloadProgress,
    ) -> Option<(usize, bool)> {
        let mut entries = lock(&self.shared.entries);
        let index = entries.iter().position(|e| e.guid == ev.guid)?;
        let entry = &mut entries[index];
        if entry.ended.is_some() {
            return None;
        }
        entry.received = ev.received_bytes.max(0.0) as u64;
        let past_cap = entry.received > allowed.max_bytes
            || ev.total_bytes.max(0.0) as u64 > allowed.max_bytes;
        let newly_over = past_cap && !entry.over_cap;
        entry.over_cap |= past_cap;
        if ev.state == DownloadProgressState::InProgress && !newly_over {
            return None;
        }
        Some((index, entry.over_cap))
    }

    /// Cancels a download that passed `max_bytes`; its cancelled event reports it.
    async fn cancel_over_cap(&self, browser: &Browser, guid: &str) {
        let mut cancel = CancelDownloadParams::new(guid.to_owned());
        cancel.browser_context_id = self.shared.scope.as_ref().map(|s| s.context.clone());
        if let Err(error) = browser.execute(cancel).await {
            tracing::warn!(%error, "cannot cancel a download past max_bytes");
        }
    }

    /// Removes the partial file of a download that was cancelled (over its cap) or failed.
    async fn drop_partial(
        &self,
        allowed: &AllowedDownloads,
        index: usize,
        over_cap: bool,
        ev: &EventDownloadProgress,
    ) -> Download {
        self.discard(&ev.guid, ev.file_path.as_deref()).await;
        let entries = lock(&self.shared.entries);
        let entry = &entries[index];
        if over_cap {
            entry.report(
                DownloadOutcome::Cancelled,
                Some(format!(
                    "it passed downloads.max_bytes = {}; the partial file was removed",
                    allowed.max_bytes
                )),
            )
        } else {
            entry.report(
                DownloadOutcome::Failed,
                Some("the browser cancelled or failed it; nothing was kept".into()),
            )
        }
    }

    fn report(&self, download: Download) {
        metrics::counter!("pilothouse_downloads_total", "outcome" => download.outcome.as_str())
            .increment(1);
        tracing::debug!(outcome = download.outcome.as_str(), "download");
        (self.shared.policy.on_report)(download);
    }
}

/// Follows the browser's download events until the browser goes away or `close` stops it.
async fn watch(
    downloads: Downloads,
    browser: Arc<Browser>,
    mut began: EventStream<EventDownloadWillBegin>,
    mut progress: EventStream<EventDownloadProgress>,
) {
    let stop = downloads.shared.stop.clone();
    loop {
        // A download's start is read before its progress (both arrive in order).
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            Some(ev) = began.next() => downloads.on_began(&ev).await,
            Some(ev) = progress.next() => downloads.on_progress(&browser, &ev).await,
            else => return,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pooled context's downloads: the context whose behaviour is set, and the page whose frames'
/// downloads are the run's.
pub(super) struct Scope {
    pub(super) context: BrowserContextId,
    pub(super) page: chromiumoxide::Page,
}

struct Shared {
    policy: DownloadPolicy,
    staging: PathBuf,
    scope: Option<Scope>,
    /// Every download in the order it began.
    entries: Mutex<Vec<Entry>>,
    /// Woken whenever a download begins or ends.
    changed: Notify,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Clone)]
struct Entry {
    guid: String,
    url: String,
    file_name: String,
    received: u64,
    /// Past `max_bytes`: cancelled, never kept.
    over_cap: bool,
    ended: Option<Download>,
}

impl Entry {
    fn report(&self, outcome: DownloadOutcome, reason: Option<String>) -> Download {
        Download {
            outcome,
            url: self.url.clone(),
            file_name: self.file_name.clone(),
            bytes: self.received,
            path: None,
            sha256: None,
            reason,
        }
    }
}
