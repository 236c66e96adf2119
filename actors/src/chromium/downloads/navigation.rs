//! A `goto` whose response is a download: it never loads a page, so the goto's result is what
//! became of the download — refused at once when downloads are denied.

use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::page::{
    NavigateParams, NavigateReturns, SetLifecycleEventsEnabledParams,
};

use super::{Downloads, lock};
use crate::chromium::cdp::{call, failed};
use crate::download::{Download, DownloadOutcome};
use crate::event::ActionFailure;
use crate::page_driver::ActionOutput;

/// How long a `goto` that turned into a download waits for `Page.navigate`'s answer once the
/// navigation is released.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

impl Downloads {
    /// `Page.navigate` for a `goto`. A response that is a download never loads a page, so
    /// instead of the navigation it returns the `goto`'s result at once: refused when downloads
    /// are denied, else how the download ended (waiting up to `limit`).
    pub(in crate::chromium) async fn navigate(
        &self,
        page: &Page,
        url: &str,
        limit: Duration,
    ) -> Result<NavigateReturns, Result<ActionOutput, ActionFailure>> {
        // The download a navigation turns into is the next one to begin.
        let mark = lock(&self.shared.entries).len();
        let navigation = page.execute(NavigateParams::new(url));
        tokio::pin!(navigation);
        let navigated = tokio::select! {
            result = &mut navigation => result,
            () = self.began_after(mark) => {
                self.release(page).await;
                match tokio::time::timeout(RELEASE_WAIT, &mut navigation).await {
                    Ok(result) => result,
                    Err(_) => return Err(self.after_goto(url, mark, limit).await),
                }
            }
        };
        let nav = navigated
            .map_err(|e| Err(failed(format!("goto {url} failed: {e}"))))?
            .result;
        if nav.is_download == Some(true) {
            return Err(self.after_goto(url, mark, limit).await);
        }
        Ok(nav)
    }

    /// Releases chromiumoxide's hold on a navigation that turned into a download.
    ///
    /// chromiumoxide 0.9 answers `Page.navigate` only once the frame's `load` lifecycle event
    /// arrives after the navigation (it never reads `Page.frameStoppedLoading`), and queues every
    /// later navigation of the page behind it for 30 s. A download never loads, so: a
    /// same-document history entry (from the isolated world, unaffected by page script) marks
    /// the navigation as same-document, and re-enabling lifecycle events makes Chromium replay
    /// the current document's `load`. chromiumoxide then hands over the browser's answer
    /// (`isDownload: true`, `net::ERR_ABORTED`).
    async fn release(&self, page: &Page) {
        let same_document = "() => history.replaceState(history.state, '')";
        if let Err(e) = call(page, same_document, serde_json::Value::Null).await {
            tracing::debug!(error = %e.message, "cannot mark the navigation same-document");
        }
        if let Err(e) = page
            .execute(SetLifecycleEventsEnabledParams::new(true))
            .await
        {
            tracing::debug!(error = %e, "cannot replay the page's lifecycle");
        }
    }

    /// Resolves once more than `mark` downloads have begun.
    async fn began_after(&self, mark: usize) {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if lock(&self.shared.entries).len() > mark {
                return;
            }
            changed.await;
        }
    }

    async fn after_goto(
        &self,
        url: &str,
        mark: usize,
        limit: Duration,
    ) -> Result<ActionOutput, ActionFailure> {
        if self.shared.policy.allowed.is_none() {
            return Err(failed(format!(
                "goto {url}: the response is a download, and this run does not allow downloads; \
                 nothing was saved (set downloads.allow in the request to keep it)"
            )));
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let state = lock(&self.shared.entries)
                .get(mark)
                .map(|e| (e.ended.clone(), e.file_name.clone(), e.received));
            if let Some((Some(ended), _, _)) = &state {
                return goto_result(url, ended);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let (name, received) = state
                    .map(|(_, name, received)| (name, received))
                    .unwrap_or_default();
                return Ok(text(format!(
                    "goto {url} started a download ({name}, {received} bytes so far); it goes on \
                     in the background and its download event tells how it ends"
                )));
            }
        }
    }
}

fn goto_result(url: &str, ended: &Download) -> Result<ActionOutput, ActionFailure> {
    let name = &ended.file_name;
    let reason = ended.reason.as_deref().unwrap_or_default();
    match ended.outcome {
        DownloadOutcome::Saved => Ok(text(format!(
            "goto {url} downloaded {name} ({} bytes) to {}",
            ended.bytes,
            ended.path.as_deref().unwrap_or_default()
        ))),
        DownloadOutcome::Cancelled => Err(failed(format!(
            "goto {url}: the download {name} was cancelled: {reason}"
        ))),
        _ => Err(failed(format!(
            "goto {url}: the download {name} was not kept: {reason}"
        ))),
    }
}

fn text(text: String) -> ActionOutput {
    ActionOutput {
        text,
        ..ActionOutput::default()
    }
}
