//! A run's cookies and localStorage over CDP, for saved sessions and playbook `capture`.
//! Cookies go through the browser's own session with the run's browser context id
//! (`Storage.getCookies` / `Storage.setCookies`), so a pooled context reads and writes only its
//! own jar and the next run in the same Chromium sees none of it. localStorage is read through
//! the page's `DOMStorage` domain by origin (Chromium answers for origins the page has a frame
//! of: the page's own at the end of the run), and restored by a script registered for every
//! new document (`Page.addScriptToEvaluateOnNewDocument`, in an isolated world the page cannot
//! see) that seeds its origin's entries before the page's own scripts run; the run page removes
//! it once an action has landed on that origin, so the entries are seeded once.

use chromiumoxide::cdp::browser_protocol::browser::BrowserContextId;
use chromiumoxide::cdp::browser_protocol::dom_storage::{GetDomStorageItemsParams, StorageId};
use chromiumoxide::cdp::browser_protocol::network::TimeSinceEpoch;
use chromiumoxide::cdp::browser_protocol::network::{Cookie, CookieParam, CookieSameSite};
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, RemoveScriptToEvaluateOnNewDocumentParams,
    ScriptIdentifier,
};
use chromiumoxide::cdp::browser_protocol::storage::{GetCookiesParams, SetCookiesParams};
use chromiumoxide::{Browser, Page};
use serde_json::{Value, json};

use super::cdp;
use crate::page_driver::{OriginStorage, StorageItem, StorageState, StoredCookie};

/// Reads one key of the page's `localStorage` or `sessionStorage`, in the isolated world.
const READ_STORAGE_JS: &str = "({session, key}) => { try { \
    const s = session ? window.sessionStorage : window.localStorage; \
    return s ? s.getItem(key) : null; } catch (_) { return null; } }";

/// Where a run's cookies live: its browser, and its context there (`None`: the default one of
/// a browser of its own).
pub(super) struct StorageTarget<'a> {
    pub(super) browser: &'a Browser,
    pub(super) context: Option<BrowserContextId>,
    pub(super) page: &'a Page,
}

/// The context's cookies and the localStorage of `origins` (origins without entries left out).
pub(super) async fn export(
    target: StorageTarget<'_>,
    origins: &[String],
) -> Result<StorageState, String> {
    let mut params = GetCookiesParams::builder();
    if let Some(context) = target.context.clone() {
        params = params.browser_context_id(context);
    }
    let cookies = target
        .browser
        .execute(params.build())
        .await
        .map_err(|e| format!("reading the cookies failed: {e}"))?
        .result
        .cookies;
    let mut state = StorageState {
        cookies: cookies.into_iter().map(stored).collect(),
        origins: Vec::new(),
    };
    for origin in origins {
        let params = GetDomStorageItemsParams::new(local_storage(origin));
        let items = match target.page.execute(params).await {
            Ok(reply) => reply.result.entries,
            Err(e) => {
                tracing::debug!(%origin, error = %e, "no localStorage read for an origin");
                continue;
            }
        };
        let local_storage: Vec<StorageItem> = items
            .into_iter()
            .filter_map(|item| match item.inner().as_slice() {
                [name, value] => Some(StorageItem {
                    name: name.clone(),
                    value: value.clone(),
                }),
                _ => None,
            })
            .collect();
        if !local_storage.is_empty() {
            state.origins.push(OriginStorage {
                origin: origin.clone(),
                local_storage,
            });
        }
    }
    Ok(state)
}

/// The isolated world the seeding scripts run in.
const SEED_WORLD: &str = "pilothouse-session";

/// Sets the saved cookies in the run's context and registers a seeding script per origin;
/// the scripts' ids, by origin, for [`unseed`].
pub(super) async fn restore(
    target: StorageTarget<'_>,
    state: &StorageState,
) -> Result<Vec<(String, ScriptIdentifier)>, String> {
    if !state.cookies.is_empty() {
        let mut params = SetCookiesParams::new(state.cookies.iter().map(param).collect());
        params.browser_context_id = target.context.clone();
        target
            .browser
            .execute(params)
            .await
            .map_err(|e| format!("restoring the cookies failed: {e}"))?;
    }
    let mut seeds = Vec::new();
    for origin in &state.origins {
        let entries: Vec<(&str, &str)> = origin
            .local_storage
            .iter()
            .map(|i| (i.name.as_str(), i.value.as_str()))
            .collect();
        let source = format!(
            "(() => {{ if (location.origin !== {origin}) return; \
             try {{ for (const [k, v] of {entries}) localStorage.setItem(k, v); }} catch (_) {{}} }})()",
            origin = json!(origin.origin),
            entries = json!(entries),
        );
        let mut params = AddScriptToEvaluateOnNewDocumentParams::new(source);
        params.world_name = Some(SEED_WORLD.into());
        let reply = target
            .page
            .execute(params)
            .await
            .map_err(|e| format!("restoring localStorage of {} failed: {e}", origin.origin))?;
        seeds.push((origin.origin.clone(), reply.result.identifier));
    }
    Ok(seeds)
}

/// Removes a seeding script once its origin has been seeded.
pub(super) async fn unseed(page: &Page, identifier: ScriptIdentifier) {
    let params = RemoveScriptToEvaluateOnNewDocumentParams::new(identifier);
    if let Err(e) = page.execute(params).await {
        tracing::debug!(error = %e, "could not remove a localStorage seeding script");
    }
}

/// The current page's storage value of `key`.
pub(super) async fn read(page: &Page, session: bool, key: &str) -> Result<Option<String>, String> {
    let value = cdp::call(
        page,
        READ_STORAGE_JS,
        json!({"session": session, "key": key}),
    )
    .await
    .map_err(|f| f.message)?;
    Ok(match value {
        Value::String(s) => Some(s),
        _ => None,
    })
}

fn local_storage(origin: &str) -> StorageId {
    let mut id = StorageId::new(true);
    id.security_origin = Some(origin.to_owned());
    id
}

fn stored(cookie: Cookie) -> StoredCookie {
    StoredCookie {
        expires: (!cookie.session && cookie.expires > 0.0).then_some(cookie.expires),
        same_site: cookie.same_site.map(|s| s.as_ref().to_owned()),
        name: cookie.name,
        value: cookie.value,
        domain: cookie.domain,
        path: cookie.path,
        http_only: cookie.http_only,
        secure: cookie.secure,
    }
}

/// A host-only cookie (no leading dot) is set by URL, so it stays host-only; a domain cookie
/// by its domain.
fn param(cookie: &StoredCookie) -> CookieParam {
    let mut param = CookieParam::new(cookie.name.clone(), cookie.value.clone());
    match cookie.domain.strip_prefix('.') {
        Some(_) => param.domain = Some(cookie.domain.clone()),
        None => {
            let scheme = if cookie.secure { "https" } else { "http" };
            param.url = Some(format!("{scheme}://{}{}", cookie.domain, cookie.path));
        }
    }
    param.path = Some(cookie.path.clone());
    param.secure = Some(cookie.secure);
    param.http_only = Some(cookie.http_only);
    param.expires = cookie.expires.map(TimeSinceEpoch::new);
    param.same_site = cookie.same_site.as_deref().and_then(|s| match s {
        "Strict" => Some(CookieSameSite::Strict),
        "Lax" => Some(CookieSameSite::Lax),
        "None" => Some(CookieSameSite::None),
        _ => None,
    });
    param
}
