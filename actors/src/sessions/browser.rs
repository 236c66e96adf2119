//! Saved sessions and a run's browser: restoring one before the run's first action and saving
//! one from it, through the run's Browser actor. Every value is added to the run's scrubber
//! before the browser holds it or a page can show it, so it is scrubbed from everything read
//! back (events, statuses, recordings) like a credential; none is ever evented.

use std::time::Duration;

use ractor::ActorRef;
use ractor::rpc::CallResult;

use super::SessionStore;
use crate::browser::{BrowserMsg, StorageOp};
use crate::page_driver::{BrowserError, StorageState};
use crate::scrub::{MIN_PREFIX_CHARS, Scrubber};

/// Bound on one storage call to the Browser actor (it bounds the CDP calls itself).
const STORAGE_CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Adds every value of `state` to the run's scrubber. Values shorter than
/// [`MIN_PREFIX_CHARS`] are left out: they identify nothing (`1`, `en`, `true`), and scrubbing
/// them would erase ordinary page text.
pub(crate) fn protect(scrubber: &Scrubber, state: &StorageState) {
    for (name, value) in state.secrets() {
        protect_value(scrubber, &name, value);
    }
}

/// Adds one secret value to the scrubber (see [`protect`] for the length rule).
pub(crate) fn protect_value(scrubber: &Scrubber, name: &str, value: &str) {
    if value.chars().count() >= MIN_PREFIX_CHARS {
        scrubber.add(name, value);
    }
}

/// Loads session `id`, protects its values and restores it into the run's browser context.
pub(crate) async fn restore(
    store: &SessionStore,
    id: &str,
    browser: &ActorRef<BrowserMsg>,
    scrubber: &Scrubber,
) -> Result<StorageState, String> {
    let state = store.load(id).await.map_err(|e| e.to_string())?;
    apply(id, &state, browser, scrubber).await?;
    Ok(state)
}

/// Protects a loaded session's values, then restores it into the run's browser context.
pub(crate) async fn apply(
    id: &str,
    state: &StorageState,
    browser: &ActorRef<BrowserMsg>,
    scrubber: &Scrubber,
) -> Result<(), String> {
    protect(scrubber, state);
    let boxed = Box::new(state.clone());
    call(browser, |reply| StorageOp::Restore(boxed, reply))
        .await
        .map_err(|e| format!("session `{id}`: cannot restore it into the browser: {e}"))
}

/// Reads the run's cookies and storage, protects them, and saves them as session `id`.
pub(crate) async fn save(
    store: &SessionStore,
    id: &str,
    browser: &ActorRef<BrowserMsg>,
    scrubber: &Scrubber,
) -> Result<(), String> {
    let state = export(browser, scrubber)
        .await
        .map_err(|e| format!("session `{id}`: cannot read the browser's cookies: {e}"))?;
    store.save(id, state).await.map_err(|e| e.to_string())
}

/// The run's cookies and visited origins' localStorage, every value protected.
pub(crate) async fn export(
    browser: &ActorRef<BrowserMsg>,
    scrubber: &Scrubber,
) -> Result<StorageState, String> {
    let state = call(browser, StorageOp::Export).await?;
    protect(scrubber, &state);
    Ok(state)
}

/// The current page's storage value of `key`.
pub(crate) async fn read_storage(
    browser: &ActorRef<BrowserMsg>,
    session: bool,
    key: &str,
) -> Result<Option<String>, String> {
    let key = key.to_owned();
    call(browser, |reply| StorageOp::Read {
        session,
        key,
        reply,
    })
    .await
}

async fn call<T: Send + 'static>(
    browser: &ActorRef<BrowserMsg>,
    op: impl FnOnce(ractor::RpcReplyPort<Result<T, BrowserError>>) -> StorageOp,
) -> Result<T, String> {
    match browser
        .call(
            |reply| BrowserMsg::Storage(op(reply)),
            Some(STORAGE_CALL_TIMEOUT),
        )
        .await
    {
        Ok(CallResult::Success(result)) => result.map_err(|e| e.to_string()),
        Ok(CallResult::Timeout) => Err(format!(
            "the browser did not answer within {} s",
            STORAGE_CALL_TIMEOUT.as_secs()
        )),
        _ => Err(BrowserError::NotRunning.to_string()),
    }
}
