//! Settling after an action, at the cost of what the action started: a watch in the isolated
//! world (`settle/watch.rs`) and the page's CDP network and lifecycle events tell whether it
//! started a navigation, requests or DOM changes. One that started none returns at once; one
//! that did waits for the navigation (DOMContentLoaded, then load, bounded), for its requests
//! to finish (bounded), and for the DOM to stop changing (bounded); no fixed quiet window.
//! Every listener is subscribed before the action runs, so a fast event can never be missed.

mod watch;

use std::collections::HashSet;
use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent, LoaderId, RequestId,
    ResourceType,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameStartedLoading, EventLifecycleEvent, FrameId,
};
use chromiumoxide::listeners::EventStream;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;

use super::cdp::failed;
use crate::config::SettleConfig;
use crate::event::{ActionFailure, SettleReport, SettleWait};
use crate::page_driver::ActionBounds;

pub(super) use watch::Reading;

/// Where an action left the page, and what settling waited for.
pub(super) struct Settled {
    /// Where the page is.
    pub(super) landed: Reading,
    /// Whether it navigated (a new document or a same-document URL change).
    pub(super) navigated: bool,
    pub(super) report: SettleReport,
}

/// Runs `act`, then settles on what it started: a new document (DOMContentLoaded, bounded by
/// the navigation timeout, then load), its requests and its DOM changes. An action that
/// started nothing returns after one read of the page. A slow page is not the action's
/// failure: the landing URL is still checked after.
pub(super) async fn settle_after(
    page: &Page,
    bounds: ActionBounds,
    settle: &SettleConfig,
    act: impl Future<Output = Result<(), ActionFailure>>,
) -> Result<Settled, ActionFailure> {
    let mut settler = Settler::watch(page).await?;
    // Installs the watch (or resets it) and notes where the page is before acting.
    let before = watch::read(page, None).await.ok();
    act.await?;
    let acted = Instant::now();
    // One read after the action: CDP delivers in order, so the events the action caused in the
    // renderer (its requests, its navigation) are queued before this reply.
    let after = watch::read(page, None).await;
    settler.drain();
    let loading = settler.document_requested
        || matches!(&after, Ok(r) if r.cross_document)
        // The reply came from a new document: the navigation already committed.
        || (after.is_err() && settler.main_frame_loading);
    let waited = if loading {
        settler
            .lifecycle("DOMContentLoaded", None, bounds.navigation)
            .await;
        settler.after_navigation(page, settle).await;
        SettleWait::Navigation
    } else if settler.requests_seen || matches!(&after, Ok(r) if r.changed()) || after.is_err() {
        settler.quiet(page, settle).await;
        SettleWait::Changes
    } else {
        SettleWait::Nothing
    };
    let landed = match after {
        Ok(reading) if waited == SettleWait::Nothing => reading,
        _ => location(page).await,
    };
    let moved = before.is_some_and(|b| b.url != landed.url);
    Ok(Settled {
        landed,
        navigated: loading || moved,
        report: report(waited, acted),
    })
}

/// What was waited for, timed from `since`.
pub(super) fn report(waited: SettleWait, since: Instant) -> SettleReport {
    SettleReport {
        waited,
        ms: since.elapsed().as_millis() as u64,
    }
}

/// The main frame's URL and document status; falls back to the handler's view of the URL.
pub(super) async fn location(page: &Page) -> Reading {
    match watch::read(page, None).await {
        Ok(reading) => reading,
        Err(_) => Reading {
            url: page
                .url()
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "about:blank".into()),
            ..Reading::default()
        },
    }
}

/// The page events of one action, subscribed before it runs.
pub(super) struct Settler {
    main: FrameId,
    started: EventStream<EventFrameStartedLoading>,
    lifecycle: EventStream<EventLifecycleEvent>,
    sent: EventStream<EventRequestWillBeSent>,
    finished: EventStream<EventLoadingFinished>,
    failed: EventStream<EventLoadingFailed>,
    inflight: HashSet<RequestId>,
    /// Finished before their start was read (the streams are drained separately).
    early: HashSet<RequestId>,
    /// Whether requests starting now count as the action's: while it runs, until its page
    /// has loaded, and during a turn of the page's task queue that follows (a request chained
    /// on one of its own starts there). Not while merely waiting: a page that polls on a timer
    /// would otherwise never settle.
    tracking: bool,
    /// Whether a tracked request started since this was last cleared.
    requests_seen: bool,
    /// Whether a document request for the main frame started: a new page is loading.
    document_requested: bool,
    /// Whether the main frame started loading (also reported for some same-document changes,
    /// so it only counts when the page can no longer be read).
    main_frame_loading: bool,
    /// When the last network event was read: `network_quiet_ms` is measured from here.
    last_network: Instant,
}

impl Settler {
    /// Subscribes to everything settling needs. Call before acting.
    pub(super) async fn watch(page: &Page) -> Result<Self, ActionFailure> {
        let main = page
            .mainframe()
            .await
            .map_err(|e| failed(format!("no main frame: {e}")))?
            .ok_or_else(|| failed("page has no main frame"))?;
        Ok(Self {
            main,
            started: listen(page).await?,
            lifecycle: listen(page).await?,
            sent: listen(page).await?,
            finished: listen(page).await?,
            failed: listen(page).await?,
            inflight: HashSet::new(),
            early: HashSet::new(),
            tracking: true,
            requests_seen: false,
            document_requested: false,
            main_frame_loading: false,
            last_network: Instant::now(),
        })
    }

    /// Reads every event already delivered, without waiting.
    fn drain(&mut self) {
        while let Some(Some(ev)) = self.started.next().now_or_never() {
            self.main_frame_loading |= ev.frame_id == self.main;
        }
        while let Some(Some(ev)) = self.sent.next().now_or_never() {
            self.sent_one(&ev);
        }
        while let Some(Some(ev)) = self.finished.next().now_or_never() {
            self.done(&ev.request_id);
        }
        while let Some(Some(ev)) = self.failed.next().now_or_never() {
            self.done(&ev.request_id);
        }
    }

    /// Waits for a main-frame lifecycle event (`DOMContentLoaded`, `load`), of `loader` when
    /// given; false when it does not come within `limit`.
    pub(super) async fn lifecycle(
        &mut self,
        name: &str,
        loader: Option<&LoaderId>,
        limit: Duration,
    ) -> bool {
        let main = self.main.clone();
        let lifecycle = &mut self.lifecycle;
        tokio::time::timeout(limit, async {
            while let Some(ev) = lifecycle.next().await {
                if ev.name == name
                    && ev.frame_id == main
                    && loader.is_none_or(|l| *l == ev.loader_id)
                {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false)
    }

    /// After a navigation: load (bounded), then its requests and DOM.
    pub(super) async fn after_navigation(&mut self, page: &Page, config: &SettleConfig) {
        self.lifecycle("load", None, ms(config.load_ms)).await;
        self.quiet(page, config).await;
    }

    /// Until none of the action's requests is in flight (bounded by `network_idle_ms`, plus
    /// `network_quiet_ms` without one) and a turn of the page's task queue changes no DOM and
    /// starts no request (bounded by `dom_stable_ms`); neither bound fails the action.
    /// Long-lived requests (SSE, long polls) simply run into the bound; requests a page starts
    /// on its own timers while we wait are not the action's and are not waited for.
    pub(super) async fn quiet(&mut self, page: &Page, config: &SettleConfig) {
        let start = Instant::now();
        let network_deadline = start + ms(config.network_idle_ms);
        let deadline = network_deadline.max(start + ms(config.dom_stable_ms));
        // Everything started so far is the action's (or its page load's).
        self.tracking = true;
        self.drain();
        loop {
            if Instant::now() < network_deadline {
                self.tracking = false;
                self.network_quiet(ms(config.network_quiet_ms), network_deadline)
                    .await;
                self.tracking = true;
            }
            self.requests_seen = false;
            let reading = watch::read(page, Some(config.dom_sample_ms)).await;
            self.drain();
            let network_busy = (self.requests_seen || !self.inflight.is_empty())
                && Instant::now() < network_deadline;
            let dom_busy = match &reading {
                Ok(r) => r.changed(),
                // A navigation replaced the document mid-read: read the new one.
                Err(_) => true,
            };
            if (!network_busy && !dom_busy) || Instant::now() >= deadline {
                return;
            }
        }
    }

    /// No request in flight for `quiet`, before `deadline`.
    async fn network_quiet(&mut self, quiet: Duration, deadline: Instant) -> bool {
        loop {
            let idle = self.inflight.is_empty();
            let quiet_at = self.last_network + quiet;
            if idle && quiet_at <= Instant::now() {
                return true;
            }
            tokio::select! {
                biased;
                Some(ev) = self.sent.next() => self.sent_one(&ev),
                Some(ev) = self.finished.next() => self.done(&ev.request_id),
                Some(ev) = self.failed.next() => self.done(&ev.request_id),
                _ = tokio::time::sleep_until(quiet_at), if idle => return true,
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    fn sent_one(&mut self, ev: &EventRequestWillBeSent) {
        if ev.r#type == Some(ResourceType::Document) && ev.frame_id.as_ref() == Some(&self.main) {
            self.document_requested = true;
        }
        // A redirect reuses its request's id: still the same request in flight.
        if self.early.remove(&ev.request_id)
            || !self.tracking && !self.inflight.contains(&ev.request_id)
        {
            return;
        }
        self.last_network = Instant::now();
        self.requests_seen = true;
        self.inflight.insert(ev.request_id.clone());
    }

    fn done(&mut self, id: &RequestId) {
        if self.inflight.remove(id) {
            self.last_network = Instant::now();
        } else if self.tracking {
            // Its start is still queued in the other stream.
            self.early.insert(id.clone());
        }
    }
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

async fn listen<T: chromiumoxide::cdp::IntoEventKind + Unpin>(
    page: &Page,
) -> Result<EventStream<T>, ActionFailure> {
    page.event_listener::<T>()
        .await
        .map_err(|e| failed(format!("cannot subscribe to page events: {e}")))
}
