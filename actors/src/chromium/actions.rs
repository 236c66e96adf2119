//! Actions on a Chromium page over CDP: navigation with load tracking, clicks and key presses
//! that settle after the navigation they trigger, typing, waits, reads and screenshots.

use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams, MouseButton,
};
use chromiumoxide::cdp::browser_protocol::page::NavigateParams;
use serde_json::{Value, json};

use super::cdp::{evaluate, failed, is_context_loss};
use super::query::{call, parsed};
use super::settings::Settings;
use super::settle::{Reading, Settled, Settler, location, report, settle_after};
use super::{observe, screenshot, scripts};
use crate::config::SettleConfig;
use crate::event::{ActionFailure, SettleWait};
use crate::page_driver::{ActionBounds, ActionOutput};
use crate::request::{Action, ExtractMode, ScrollDirection, WaitState};

/// Why an action cannot run on the page as it came: the router runs it itself (a sequence,
/// `api_request`, `llm_extract`), or it still names a credential instead of its value.
fn not_on_page(action: &Action) -> &'static str {
    match action {
        Action::Type { .. } => "type needs its credential resolved before it reaches the page",
        _ => "sequence, api_request and llm_extract are run by the router, not on the page",
    }
}

/// Runs one action on the page: each kind is one step below.
pub(super) async fn execute(
    page: &Page,
    action: &Action,
    bounds: ActionBounds,
    settings: &Settings,
) -> Result<ActionOutput, ActionFailure> {
    let settle = &settings.settle;
    match action {
        Action::Goto { url } => goto(page, url, bounds, settings).await,
        Action::Click { selector } => click(page, selector, bounds, settle).await,
        Action::Type {
            selector,
            text: Some(text),
            ..
        } => type_text(page, selector.as_deref(), text, bounds).await,
        Action::PressKey { key } => press_key(page, key, bounds, settle).await,
        Action::Scroll {
            direction,
            amount,
            selector,
        } => {
            scroll(
                page,
                *direction,
                amount.unwrap_or(1),
                selector.as_deref(),
                bounds,
            )
            .await
        }
        Action::Select {
            selector,
            value,
            label,
        } => {
            let (value, label) = (value.as_deref(), label.as_deref());
            select(page, selector, value, label, bounds, settle).await
        }
        Action::Hover { selector } => hover(page, selector, bounds).await,
        Action::Observe { .. } => observe_page(page, settings).await,
        Action::Extract {
            selector,
            mode: ExtractMode::Markdown,
            ..
        } => extract_markdown(page, selector.as_deref(), bounds, settings).await,
        Action::WaitFor {
            selector, state, ..
        } => wait_for_action(page, selector, *state, bounds).await,
        Action::Extract { selector, mode, .. } => {
            extract(page, selector.as_deref(), *mode, bounds).await
        }
        Action::Evaluate { script, .. } => evaluate_script(page, script, bounds, settle).await,
        Action::Screenshot { full_page } => screenshot::action(page, *full_page, settings).await,
        other => Err(failed(not_on_page(other))),
    }
}

pub(super) async fn blank(page: &Page) -> Result<(), String> {
    page.execute(NavigateParams::new("about:blank"))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn text_output(text: String) -> ActionOutput {
    ActionOutput {
        text,
        ..ActionOutput::default()
    }
}

/// `observe`: the page's snapshot, as text and as the value.
async fn observe_page(page: &Page, settings: &Settings) -> Result<ActionOutput, ActionFailure> {
    let snapshot = observe::observe(page, settings).await?;
    Ok(ActionOutput {
        text: snapshot.clone(),
        value: Some(Value::String(snapshot)),
        ..ActionOutput::default()
    })
}

/// `extract` in markdown mode: the page (or the element once attached), readability-style.
async fn extract_markdown(
    page: &Page,
    selector: Option<&str>,
    bounds: ActionBounds,
    settings: &Settings,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(selector) = selector {
        wait_for(page, selector, WaitState::Attached, bounds.action).await?;
    }
    let cap = settings.observe.markdown_chars;
    let text = observe::markdown(page, selector, cap, &settings.scrubber).await?;
    Ok(ActionOutput {
        text: text.clone(),
        value: Some(Value::String(text)),
        ..ActionOutput::default()
    })
}

/// `wait_for`: the element reaches `state` within the action's bound.
async fn wait_for_action(
    page: &Page,
    selector: &str,
    state: WaitState,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    // `bounds.action` is already this wait's own `timeout_ms` when it has one (the
    // router derives every bound from the action, see `ActionBounds::for_action`).
    wait_for(page, selector, state, bounds.action).await?;
    Ok(text_output(format!(
        "Element {selector} is {}",
        state.as_str()
    )))
}

async fn goto(
    page: &Page,
    url: &str,
    bounds: ActionBounds,
    settings: &Settings,
) -> Result<ActionOutput, ActionFailure> {
    // Subscribe before navigating so a fast load event cannot be missed.
    let mut settler = Settler::watch(page).await?;
    let navigation = settings.downloads.navigate(page, url, bounds.navigation);
    let nav = match navigation.await {
        Ok(nav) => nav,
        Err(download) => return download,
    };
    if let Some(error) = nav.error_text.filter(|e| !e.is_empty()) {
        return Err(failed(format!("goto {url} failed: {error}")));
    }
    let committed = tokio::time::Instant::now();
    let waited = match nav.loader_id {
        Some(loader) => {
            let loaded = settler
                .lifecycle("DOMContentLoaded", Some(&loader), bounds.navigation)
                .await;
            if !loaded {
                return Err(failed(format!(
                    "goto {url}: page did not load within {} ms",
                    bounds.navigation.as_millis()
                )));
            }
            settler.after_navigation(page, &settings.settle).await;
            SettleWait::Navigation
        }
        // A same-document navigation (a #fragment): nothing loads.
        None => {
            settler.quiet(page, &settings.settle).await;
            SettleWait::Changes
        }
    };
    let Reading {
        url: landed,
        status,
        ..
    } = location(page).await;
    let status = status.map(|s| format!(" (status {s})")).unwrap_or_default();
    Ok(ActionOutput {
        text: format!("Navigated to {landed}{status}"),
        url: Some(landed),
        settle: Some(report(waited, committed)),
        ..ActionOutput::default()
    })
}

async fn click(
    page: &Page,
    selector: &str,
    bounds: ActionBounds,
    settle: &SettleConfig,
) -> Result<ActionOutput, ActionFailure> {
    let started = Instant::now();
    wait_for(page, selector, WaitState::Visible, bounds.action).await?;
    let arg = json!({ "selector": selector, "query": parsed(selector)? });
    let point = call(page, scripts::CLICK_POINT, arg).await?;
    if let Some(error) = point.get("error").and_then(Value::as_str) {
        return Err(failed(format!("click {selector}: {error}")));
    }
    let x = point["x"].as_f64().unwrap_or(0.0);
    let y = point["y"].as_f64().unwrap_or(0.0);
    let remaining = bounds.action.saturating_sub(started.elapsed());
    let settled = settle_after(page, bounds, settle, async {
        for kind in [
            DispatchMouseEventType::MouseMoved,
            DispatchMouseEventType::MousePressed,
            DispatchMouseEventType::MouseReleased,
        ] {
            let mut event = DispatchMouseEventParams::new(kind.clone(), x, y);
            if kind != DispatchMouseEventType::MouseMoved {
                event.button = Some(MouseButton::Left);
                event.click_count = Some(1);
            }
            tokio::time::timeout(remaining, page.execute(event))
                .await
                .map_err(|_| failed(format!("click {selector} timed out")))?
                .map_err(|e| failed(format!("click {selector} failed: {e}")))?;
        }
        Ok(())
    })
    .await?;
    Ok(settled_output("Clicked".to_owned(), settled))
}

async fn type_text(
    page: &Page,
    selector: Option<&str>,
    text: &str,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(selector) = selector {
        wait_for(page, selector, WaitState::Visible, bounds.action).await?;
        let focused = call(
            page,
            scripts::FOCUS_AND_CLEAR,
            json!({ "selector": selector, "query": parsed(selector)? }),
        )
        .await?;
        if let Some(error) = focused.get("error").and_then(Value::as_str) {
            return Err(failed(format!("type into {selector}: {error}")));
        }
    }
    page.execute(InsertTextParams::new(text))
        .await
        .map_err(|e| failed(format!("type failed: {e}")))?;
    Ok(text_output(format!(
        "Typed {} characters",
        text.chars().count()
    )))
}

async fn press_key(
    page: &Page,
    key: &str,
    bounds: ActionBounds,
    settle: &SettleConfig,
) -> Result<ActionOutput, ActionFailure> {
    let def = chromiumoxide::keys::get_key_definition(key)
        .ok_or_else(|| failed(format!("unknown key `{key}`")))?;
    let mut down = DispatchKeyEventParams::new(DispatchKeyEventType::KeyDown);
    down.key = Some(def.key.to_owned());
    down.code = Some(def.code.to_owned());
    down.windows_virtual_key_code = Some(def.key_code as i64);
    down.native_virtual_key_code = Some(def.key_code as i64);
    let text = def
        .text
        .map(str::to_owned)
        .or_else(|| (def.key.chars().count() == 1).then(|| def.key.to_owned()));
    if text.is_none() {
        down.r#type = DispatchKeyEventType::RawKeyDown;
    }
    down.text = text;
    let mut up = down.clone();
    up.r#type = DispatchKeyEventType::KeyUp;
    up.text = None;
    let settled = settle_after(page, bounds, settle, async {
        for event in [down, up] {
            tokio::time::timeout(bounds.action, page.execute(event))
                .await
                .map_err(|_| failed(format!("press_key {key} timed out")))?
                .map_err(|e| failed(format!("press_key {key} failed: {e}")))?;
        }
        Ok(())
    })
    .await?;
    Ok(settled_output(format!("Pressed {key}"), settled))
}

async fn scroll(
    page: &Page,
    direction: ScrollDirection,
    amount: u32,
    selector: Option<&str>,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(selector) = selector {
        wait_for(page, selector, WaitState::Attached, bounds.action).await?;
    }
    let query = selector.map(parsed).transpose()?;
    let arg = json!({ "direction": direction.as_str(), "amount": amount, "selector": selector, "query": query });
    let out = call(page, scripts::SCROLL, arg).await?;
    if let Some(error) = out.get("error").and_then(Value::as_str) {
        return Err(failed(format!("scroll: {error}")));
    }
    Ok(text_output(format!(
        "Scrolled {} {amount}; now at x={} y={}",
        direction.as_str(),
        out["x"],
        out["y"]
    )))
}

async fn select(
    page: &Page,
    selector: &str,
    value: Option<&str>,
    label: Option<&str>,
    bounds: ActionBounds,
    settle: &SettleConfig,
) -> Result<ActionOutput, ActionFailure> {
    wait_for(page, selector, WaitState::Visible, bounds.action).await?;
    let mut chosen = Value::Null;
    let arg =
        json!({ "selector": selector, "query": parsed(selector)?, "value": value, "label": label });
    let settled = settle_after(page, bounds, settle, async {
        chosen = call(page, scripts::SELECT, arg).await?;
        match chosen.get("error").and_then(Value::as_str) {
            Some(error) => Err(failed(format!("select {selector}: {error}"))),
            None => Ok(()),
        }
    })
    .await?;
    let text = format!(
        "Selected option {} ({})",
        chosen["label"].as_str().unwrap_or_default(),
        chosen["value"].as_str().unwrap_or_default()
    );
    let mut out = settled_output(text, settled);
    out.value = Some(chosen["value"].clone());
    Ok(out)
}

async fn hover(
    page: &Page,
    selector: &str,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    wait_for(page, selector, WaitState::Visible, bounds.action).await?;
    let arg = json!({ "selector": selector, "query": parsed(selector)? });
    let point = call(page, scripts::CLICK_POINT, arg).await?;
    if let Some(error) = point.get("error").and_then(Value::as_str) {
        return Err(failed(format!("hover {selector}: {error}")));
    }
    let (x, y) = (
        point["x"].as_f64().unwrap_or(0.0),
        point["y"].as_f64().unwrap_or(0.0),
    );
    let moved = DispatchMouseEventParams::new(DispatchMouseEventType::MouseMoved, x, y);
    page.execute(moved)
        .await
        .map_err(|e| failed(format!("hover {selector} failed: {e}")))?;
    Ok(text_output(format!("Hovering over {selector}")))
}

async fn wait_for(
    page: &Page,
    selector: &str,
    state: WaitState,
    timeout: Duration,
) -> Result<(), ActionFailure> {
    let query = parsed(selector)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let arg =
            json!({ "query": query, "state": state.as_str(), "timeout": left.as_millis() as u64 });
        match call(page, scripts::WAIT_FOR, arg).await {
            Ok(v) if v.get("ok").is_some() => return Ok(()),
            Ok(v) if v.get("timeout").is_some() => break,
            Ok(v) => {
                let error = v
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unexpected reply");
                return Err(failed(format!("wait_for {selector}: {error}")));
            }
            // A navigation destroyed the context mid-wait: wait again in the new document.
            Err(e) if is_context_loss(&e.message) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Err(failed(format!(
        "wait_for {selector} to be {} timed out after {} ms",
        state.as_str(),
        timeout.as_millis()
    )))
}

async fn extract(
    page: &Page,
    selector: Option<&str>,
    mode: ExtractMode,
    bounds: ActionBounds,
) -> Result<ActionOutput, ActionFailure> {
    if let Some(selector) = selector {
        wait_for(page, selector, WaitState::Attached, bounds.action).await?;
    }
    let out = call(
        page,
        scripts::EXTRACT,
        json!({ "selector": selector, "query": selector.map(parsed).transpose()?, "mode": mode.as_str() }),
    )
    .await?;
    if let Some(error) = out.get("error").and_then(Value::as_str) {
        return Err(failed(format!("extract: {error}")));
    }
    let value = out.get("value").cloned().unwrap_or(Value::Null);
    let text = value.as_str().unwrap_or_default();
    Ok(ActionOutput {
        text: text.to_owned(),
        value: Some(value),
        ..ActionOutput::default()
    })
}

async fn evaluate_script(
    page: &Page,
    script: &str,
    bounds: ActionBounds,
    settle: &SettleConfig,
) -> Result<ActionOutput, ActionFailure> {
    let mut value = Value::Null;
    let settled = settle_after(page, bounds, settle, async {
        value = tokio::time::timeout(bounds.action, evaluate(page, script, None))
            .await
            .map_err(|_| {
                failed(format!(
                    "evaluate timed out after {} ms",
                    bounds.action.as_millis()
                ))
            })??;
        Ok(())
    })
    .await?;
    let text = match &value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = settled_output(text, settled);
    out.value = Some(value);
    Ok(out)
}

fn settled_output(text: String, settled: Settled) -> ActionOutput {
    let Settled {
        landed,
        navigated,
        report,
    } = settled;
    let text = if navigated {
        format!("{text}; navigated to {}", landed.url)
    } else {
        text
    };
    ActionOutput {
        text,
        url: Some(landed.url),
        settle: Some(report),
        ..ActionOutput::default()
    }
}
