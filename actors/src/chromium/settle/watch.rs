//! The page side of settling: a watch installed once per document in the isolated world (a
//! `MutationObserver` on the whole document and a Navigation API `navigate` listener), read and
//! reset by one call. It tells whether an action changed the DOM or started a navigation, so an
//! action that did neither returns without waiting, and it doubles as the location read.

use serde_json::{Value, json};

use super::super::cdp::call;
use crate::event::ActionFailure;

/// Installs the watch on first use, optionally lets the page run for `wait` ms and one more
/// task turn (so work queued by a finished request renders), then returns what happened since
/// the last read and resets the counters. Runs in the isolated world: the page can neither see
/// nor disturb the watch, while the DOM and its events are shared.
const WATCH: &str = r#"async ({wait}) => {
  const key = '__pilothouseSettle';
  let w = globalThis[key];
  if (!w) {
    w = {mutations: 0, navigations: 0, crossDocument: false};
    w.observer = new MutationObserver((records) => { w.mutations += records.length; });
    w.observer.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
    if (globalThis.navigation) {
      navigation.addEventListener('navigate', (e) => {
        w.navigations += 1;
        if (!e.destination || !e.destination.sameDocument) w.crossDocument = true;
      });
    }
    globalThis[key] = w;
  }
  if (wait !== null) {
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await new Promise((r) => setTimeout(r, 0));
  }
  const mutations = w.mutations + w.observer.takeRecords().length;
  const nav = performance.getEntriesByType('navigation')[0];
  const out = {
    mutations,
    navigations: w.navigations,
    crossDocument: w.crossDocument,
    url: location.href,
    status: nav && nav.responseStatus ? nav.responseStatus : null,
  };
  w.mutations = 0;
  w.navigations = 0;
  w.crossDocument = false;
  return out;
}"#;

/// Reads (and resets) the watch; `wait` lets the page run first (`None`: read at once).
pub(super) async fn read(
    page: &chromiumoxide::Page,
    wait: Option<u64>,
) -> Result<Reading, ActionFailure> {
    call(page, WATCH, json!({ "wait": wait }))
        .await
        .map(|v| Reading::from_value(&v))
}

impl Reading {
    fn from_value(v: &Value) -> Self {
        Self {
            mutations: v["mutations"].as_u64().unwrap_or(0),
            navigations: v["navigations"].as_u64().unwrap_or(0),
            cross_document: v["crossDocument"].as_bool().unwrap_or(false),
            url: v["url"].as_str().unwrap_or("about:blank").to_owned(),
            status: v["status"].as_u64(),
        }
    }

    /// Whether the page changed since the last read: its DOM, or a navigation of any kind.
    pub(super) fn changed(&self) -> bool {
        self.mutations > 0 || self.navigations > 0 || self.cross_document
    }
}

/// What the watch saw since it was last read, and where the page is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::chromium) struct Reading {
    /// DOM mutation records (child list, text, attributes).
    pub(in crate::chromium) mutations: u64,
    /// Navigations the document started, same-document ones (`pushState`) included.
    pub(in crate::chromium) navigations: u64,
    /// Whether one of them leaves the document: a new page is loading.
    pub(in crate::chromium) cross_document: bool,
    /// `location.href`.
    pub(in crate::chromium) url: String,
    /// The document's HTTP status, when known.
    pub(in crate::chromium) status: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_of_an_untouched_page_is_unchanged() {
        let reading = Reading::from_value(&json!({
            "mutations": 0, "navigations": 0, "crossDocument": false,
            "url": "http://127.0.0.1/", "status": 200
        }));
        assert!(!reading.changed());
        assert_eq!(reading.status, Some(200));
        assert_eq!(reading.url, "http://127.0.0.1/");
    }

    #[test]
    fn mutations_or_navigations_count_as_a_change() {
        for v in [
            json!({"mutations": 3}),
            json!({"navigations": 1}),
            json!({"crossDocument": true}),
        ] {
            assert!(Reading::from_value(&v).changed(), "{v}");
        }
        // A broken reply reads as nothing seen, at about:blank.
        let empty = Reading::from_value(&Value::Null);
        assert!(!empty.changed());
        assert_eq!(empty.url, "about:blank");
    }
}
