//! The page side of selectors: one engine (`query/engine.js`, with `query/roles.js` for
//! `role=` parts) that every page script of ours taking a selector calls, in the isolated world
//! those scripts run in. Rust parses the selector (`selector.rs`, the one source of truth) and
//! hands the engine the parsed parts; the page never parses selector text.
//!
//! Visible-first: when several elements match, an action takes the first visible one (as
//! Playwright's actions wait for a visible element), else the first; `wait_for` `visible` holds
//! when any match is visible and `hidden` when none is. Plain CSS is one `querySelector` (plus
//! `querySelectorAll` only when the first match is not visible).

use chromiumoxide::Page;
use serde_json::Value;

use super::cdp::{self, failed};
use crate::event::ActionFailure;
use crate::selector::Selector;

/// The engine: a function of the role module, returning `{one, all, exists, visible}`.
const ENGINE_JS: &str = include_str!("query/engine.js");
/// The role module: a function of the engine's helpers, returning `byRole`.
const ROLES_JS: &str = include_str!("query/roles.js");

/// Calls a page function `(arg, Q) => …` with `arg` and the engine as `Q`, through
/// [`cdp::call`] (the isolated world).
pub(super) async fn call(page: &Page, function: &str, arg: Value) -> Result<Value, ActionFailure> {
    cdp::call(page, &with_engine(function), arg).await
}

/// `function` as a one-argument function that hands it the engine too.
pub(super) fn with_engine(function: &str) -> String {
    format!("((arg) => ({function})(arg, ({ENGINE_JS})({ROLES_JS})))")
}

/// The parsed form of `selector` for the engine, or an action failure that says what is wrong
/// with it (the agent's selectors reach the page without admission).
pub(super) fn parsed(selector: &str) -> Result<Value, ActionFailure> {
    Selector::parse(selector)
        .map(|s| s.to_json())
        .map_err(|e| failed(e.to_string()))
}
