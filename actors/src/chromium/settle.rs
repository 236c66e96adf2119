//! Settling after an action: DOMContentLoaded, then load (bounded), then network quiet
//! (bounded), then a stable DOM (bounded). Every listener is subscribed before the action runs,
//! so a fast load event or request can never be missed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::network::{
    EventLoadingFailed, EventLoadingFinished, EventRequestWillBeSent, LoaderId, RequestId,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventFrameStartedLoading, EventLifecycleEvent, FrameId,
};
use chromiumoxide::listeners::EventStream;
use futures::StreamExt;
use serde_json::Value;

use super::actions::{call, failed};
use crate::config::SettleConfig;
use crate::event::ActionFailure;

/// How long after a click or key press a navigation must start to count as caused by it.
/// Navigations scheduled by the click handler itself start well within this.
const NAVIGATION_START_GRACE: Duration = Duration::from_millis(60);

/// Samples the size of the DOM: text length and element count.
const DOM_SIZE: &str = r#"() => [
  document.documentElement ? document.documentElement.textContent.length : 0,
  document.getElementsByTagName('*').length
]"#;

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
    /// When the last network event was read: quiet is measured from here.
    last_network: tokio::time::Instant,
    /// The DOM's size before the action, when taken: an unchanged DOM is already stable.
    baseline: Option<Value>,
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
            last_network: tokio::time::Instant::now(),
            baseline: None,
        })
    }

    /// Notes the DOM's size before an action, so an action that changed nothing settles at once.
    pub(super) async fn take_baseline(&mut self, page: &Page) {
        self.baseline = call(page, DOM_SIZE, Value::Null).await.ok();
    }

    /// Whether the action started a main-frame navigation within a short grace; the network
    /// events of that window are counted meanwhile, so the grace doubles as the quiet window.
    pub(super) async fn navigation_started(&mut self) -> bool {
        let grace = tokio::time::Instant::now() + NAVIGATION_START_GRACE;
        loop {
            tokio::select! {
                Some(ev) = self.started.next() => {
                    if ev.frame_id == self.main {
                        return true;
                    }
                }
                Some(ev) = self.sent.next() => self.sent_one(&ev.request_id),
                Some(ev) = self.finished.next() => self.done(&ev.request_id),
                Some(ev) = self.failed.next() => self.done(&ev.request_id),
                _ = tokio::time::sleep_until(grace) => return false,
            }
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

    /// After a navigation: load (bounded), then network quiet and a stable DOM.
    pub(super) async fn after_navigation(&mut self, page: &Page, config: &SettleConfig) {
        // The old document's size says nothing about the new one.
        self.baseline = None;
        self.lifecycle("load", None, ms(config.load_ms)).await;
        self.quiet(page, config).await;
    }

    /// Network quiet, then a stable DOM; both bounded, neither fails the action.
    pub(super) async fn quiet(&mut self, page: &Page, config: &SettleConfig) {
        self.network_quiet(ms(config.network_quiet_ms), ms(config.network_idle_ms))
            .await;
        let baseline = self.baseline.take();
        dom_stable(
            page,
            baseline,
            ms(config.dom_sample_ms),
            ms(config.dom_stable_ms),
        )
        .await;
    }

    /// No request in flight for `quiet`, within `limit`. Long-lived requests (SSE, long polls)
    /// simply run into the limit.
    async fn network_quiet(&mut self, quiet: Duration, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let idle = self.inflight.is_empty();
            let quiet_at = self.last_network + quiet;
            tokio::select! {
                biased;
                Some(ev) = self.sent.next() => self.sent_one(&ev.request_id),
                Some(ev) = self.finished.next() => self.done(&ev.request_id),
                Some(ev) = self.failed.next() => self.done(&ev.request_id),
                _ = tokio::time::sleep_until(quiet_at), if idle => return true,
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    fn sent_one(&mut self, id: &RequestId) {
        self.last_network = tokio::time::Instant::now();
        if !self.early.remove(id) {
            self.inflight.insert(id.clone());
        }
    }

    fn done(&mut self, id: &RequestId) {
        self.last_network = tokio::time::Instant::now();
        if !self.inflight.remove(id) {
            self.early.insert(id.clone());
        }
    }
}

/// Samples the DOM size until two samples `sample` apart agree (or one agrees with the size
/// before the action), within `limit`.
async fn dom_stable(
    page: &Page,
    baseline: Option<Value>,
    sample: Duration,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    let mut last: Option<Value> = baseline;
    while Instant::now() < deadline {
        let Ok(size) = call(page, DOM_SIZE, Value::Null).await else {
            // A navigation replaced the document mid-sample; sample the new one.
            last = None;
            tokio::time::sleep(sample).await;
            continue;
        };
        if last.as_ref() == Some(&size) {
            return true;
        }
        last = Some(size);
        tokio::time::sleep(sample).await;
    }
    false
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
