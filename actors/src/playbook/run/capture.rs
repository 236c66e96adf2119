//! A playbook's `capture` block, run after `auth`: cookies of the run's browser context and
//! storage keys of the current page become parameters (`{store_as}`) for the steps, and
//! `static_headers` become parameters under their own names, as the reference's
//! `capture_session_artifacts` does. Captured values are secrets: each is added to the run's
//! scrubber before any step can use it, and none is kept in the status's `data` or evented. A
//! required cookie or key that is missing fails the run, naming it (never a value).

use std::collections::BTreeMap;

use serde_json::Value;

use super::failed;
use crate::driver::{DriverContext, DriverOutcome};
use crate::playbook::bind_str;
use crate::request::{CaptureBlock, StorageScope};
use crate::run::ErrorCode;
use crate::sessions::browser::{export, protect_value, read_storage};

/// Captures what `block` asks into `params`; `Some` when the run ends here.
pub(super) async fn capture(
    ctx: &DriverContext,
    block: &CaptureBlock,
    params: &mut BTreeMap<String, Value>,
) -> Option<DriverOutcome> {
    let scrubber = &ctx.record.scrubber;
    for (name, value) in &block.static_headers {
        params.insert(name.clone(), Value::String(bind_str(value, params)));
    }
    if !block.cookies.is_empty()
        && let Some(outcome) = capture_cookies(ctx, block, params).await
    {
        return Some(outcome);
    }
    for (i, wanted) in block.storage.iter().enumerate() {
        let session = wanted.scope == StorageScope::Session;
        let scope = if session { "session" } else { "local" };
        let value = match read_storage(&ctx.browser, session, &wanted.key).await {
            Ok(Some(value)) => value,
            Ok(None) => {
                return Some(failed(
                    ErrorCode::ActionFailed,
                    format!(
                        "capture.storage[{i}]: required {scope} storage key `{}` not found",
                        wanted.key
                    ),
                ));
            }
            Err(e) => {
                return Some(failed(
                    ErrorCode::ActionFailed,
                    format!("capture.storage[{i}]: {e}"),
                ));
            }
        };
        protect_value(scrubber, &wanted.store_as, &value);
        params.insert(wanted.store_as.clone(), Value::String(value));
    }
    None
}

/// The block's cookies, from the run's browser context.
async fn capture_cookies(
    ctx: &DriverContext,
    block: &CaptureBlock,
    params: &mut BTreeMap<String, Value>,
) -> Option<DriverOutcome> {
    let scrubber = &ctx.record.scrubber;
    let cookies = match export(&ctx.browser, scrubber).await {
        Ok(state) => state.cookies,
        Err(e) => {
            return Some(failed(
                ErrorCode::ActionFailed,
                format!("capture.cookies: {e}"),
            ));
        }
    };
    for (i, wanted) in block.cookies.iter().enumerate() {
        let found = cookies.iter().find(|c| {
            c.name == wanted.name
                && !c.value.is_empty()
                && (wanted.domain.is_empty() || domain_matches(&c.domain, &wanted.domain))
        });
        let Some(cookie) = found else {
            let within = match wanted.domain.is_empty() {
                true => String::new(),
                false => format!(" for domain {}", wanted.domain),
            };
            return Some(failed(
                ErrorCode::ActionFailed,
                format!(
                    "capture.cookies[{i}]: required cookie `{}` not found{within}",
                    wanted.name
                ),
            ));
        };
        protect_value(scrubber, &wanted.store_as, &cookie.value);
        params.insert(wanted.store_as.clone(), Value::String(cookie.value.clone()));
    }
    None
}

/// A cookie's domain is the wanted one or a subdomain of it (leading dots aside).
fn domain_matches(cookie: &str, wanted: &str) -> bool {
    let cookie = cookie.trim_start_matches('.').to_ascii_lowercase();
    let wanted = wanted.trim_start_matches('.').to_ascii_lowercase();
    cookie == wanted || cookie.ends_with(&format!(".{wanted}"))
}

#[cfg(test)]
mod tests {
    use super::domain_matches;

    #[test]
    fn a_cookie_matches_its_domain_and_parents_only() {
        assert!(domain_matches(".app.example.com", "example.com"));
        assert!(domain_matches("example.com", ".example.com"));
        assert!(!domain_matches("badexample.com", "example.com"));
        assert!(!domain_matches("example.com", "app.example.com"));
    }
}
