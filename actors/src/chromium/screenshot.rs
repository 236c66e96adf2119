//! Screenshots that never show a credential: fields holding one are painted over from our side
//! after the capture, so nothing the page does to its DOM, styles or prototypes can undo the
//! mask; a screenshot is withheld when a credential shows where no field box covers it.
//!
//! The page is measured from chromiumoxide's isolated world (its own JS globals and DOM
//! wrappers: a page overriding `Document.prototype.querySelectorAll` or
//! `Element.prototype.getBoundingClientRect` changes nothing there), before and after the
//! capture: a field that moved in between means the mask might miss, so the shot is withheld.
//! Fields are found by the selectors a credential was typed into and by their value (the run's
//! scrubber recognises a credential, or an identifying prefix, in any encoding), so a page that
//! renames the field or turns `type=password` into `type=text` is still masked.
//!
//! Not seen by the probe (a page that knows the value can draw it anywhere): canvas, images,
//! CSS generated content, closed shadow roots and iframes.

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::page::ScreenshotParams;
use serde::Deserialize;
use serde_json::json;

use super::cdp::{call, evaluate, failed};
use super::query;
use super::settings::Settings;
use crate::event::ActionFailure;
use crate::page_driver::{ActionOutput, Capture};
use crate::selector::Selector;

mod paint;

/// The page script that measures fields and visible text.
const PROBE_JS: &str = include_str!("screenshot/probe.js");
/// Most bytes of visible text the probe hands back; a page showing more is not screenshotted
/// while a credential is in play (it could hide one past the limit).
const PROBE_TEXT_BYTES: usize = 1 << 20;
/// Most text nodes the probe walks.
const PROBE_NODES: usize = 50_000;

/// The DOM as `page.content()` gives it, read up to `max` UTF-16 units in the page: a 60 MB
/// page is not shipped whole only to be cut after.
const DOM_JS: &str = r#"({max}) => {
  const d = document.doctype;
  const html = (d ? '<!DOCTYPE ' + d.name + '>' : '') + document.documentElement.outerHTML;
  return html.length > max ? html.slice(0, max) : html;
}"#;
/// How many times `max_result_bytes` of the DOM is read: the seam cuts to `max_result_bytes`
/// after scrubbing, and the margin keeps that cut (not this one) the one that shows, even
/// where scrubbing shortened the text.
const DOM_READ_FACTOR: usize = 4;

/// A screenshot, or why there is none.
enum Shot {
    Jpeg(Vec<u8>),
    Withheld(String),
}

/// The `screenshot` action: masked like every other screenshot. A withheld one is no failure
/// of the run: the result says why there is no image (and the step's event says it too).
pub(super) async fn action(
    page: &Page,
    full_page: bool,
    settings: &Settings,
) -> Result<ActionOutput, ActionFailure> {
    match shoot(page, settings, &[], full_page).await? {
        Shot::Jpeg(bytes) => Ok(ActionOutput {
            text: format!("Captured {} KiB JPEG", bytes.len().div_ceil(1024)),
            screenshot: Some(bytes),
            ..ActionOutput::default()
        }),
        Shot::Withheld(reason) => Ok(ActionOutput {
            text: format!("Screenshot withheld: {reason}"),
            ..ActionOutput::default()
        }),
    }
}

/// The recorder's capture: a viewport JPEG (masked) and/or the DOM. Neither waits for anything.
pub(crate) async fn capture(
    page: &Page,
    settings: &Settings,
    shot: bool,
    dom: bool,
    masks: &[String],
) -> Result<Capture, String> {
    let mut capture = Capture::default();
    if shot {
        match shoot(page, settings, masks, false)
            .await
            .map_err(|f| f.message)?
        {
            Shot::Jpeg(bytes) => capture.jpeg = Some(bytes),
            Shot::Withheld(reason) => capture.withheld = Some(reason),
        }
    }
    if dom {
        let arg = json!({ "max": settings.max_result_bytes.saturating_mul(DOM_READ_FACTOR) });
        let html = call(page, DOM_JS, arg)
            .await
            .map_err(|f| format!("cannot read the DOM: {}", f.message))?;
        capture.dom = Some(html.as_str().unwrap_or_default().to_owned());
    }
    Ok(capture)
}

/// What the probe reports.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
struct Probe {
    fields: Vec<Field>,
    texts: Vec<String>,
    overflow: bool,
    width: f64,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
struct Field {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    value: String,
    selected: bool,
}

/// Takes a screenshot with every credential-bearing field painted over, or says why not.
async fn shoot(
    page: &Page,
    settings: &Settings,
    masks: &[String],
    full_page: bool,
) -> Result<Shot, ActionFailure> {
    if settings.scrubber.is_empty() && masks.is_empty() {
        return raw(page, full_page, settings.screenshot_quality)
            .await
            .map(Shot::Jpeg);
    }
    let before = match probe(page, masks, full_page).await {
        Ok(probe) => probe,
        Err(reason) => return Ok(Shot::Withheld(reason)),
    };
    let boxes = match mask_boxes(settings, &before) {
        Ok(boxes) => boxes,
        Err(reason) => return Ok(Shot::Withheld(reason)),
    };
    let jpeg = raw(page, full_page, settings.screenshot_quality).await?;
    let after = match probe(page, masks, full_page).await {
        Ok(probe) => probe,
        Err(reason) => return Ok(Shot::Withheld(reason)),
    };
    if mask_boxes(settings, &after) != Ok(boxes.clone()) {
        return Ok(Shot::Withheld(
            "a field holding a credential moved or changed while the screenshot was taken".into(),
        ));
    }
    if boxes.is_empty() {
        return Ok(Shot::Jpeg(jpeg));
    }
    paint::cover(&jpeg, &boxes, before.width, settings.screenshot_quality)
        .map(Shot::Jpeg)
        .or_else(|e| Ok(Shot::Withheld(format!("cannot mask the screenshot: {e}"))))
}

/// The boxes to paint over, in CSS pixels; an error when a credential shows outside any field.
fn mask_boxes(settings: &Settings, probe: &Probe) -> Result<Vec<paint::Rect>, String> {
    if probe.overflow {
        return Err(format!(
            "the page shows more text than the credential check reads ({PROBE_TEXT_BYTES} bytes)"
        ));
    }
    if probe.texts.iter().any(|t| settings.scrubber.finds(t)) {
        return Err("a credential's text is visible on the page outside its field".into());
    }
    Ok(probe
        .fields
        .iter()
        .filter(|f| f.selected || settings.scrubber.finds(&f.value))
        .map(|f| paint::Rect {
            x: f.x,
            y: f.y,
            w: f.w,
            h: f.h,
        })
        .collect())
}

/// Runs the probe in the isolated world only: the page's own world cannot be trusted with it.
async fn probe(page: &Page, masks: &[String], full_page: bool) -> Result<Probe, String> {
    // A mask's selector was typed into, so it parses; one that does not masks nothing extra
    // (every field holding a credential's value is masked by that value anyway).
    let queries: Vec<_> = masks
        .iter()
        .filter_map(|m| Selector::parse(m).ok().map(|s| s.to_json()))
        .collect();
    let arg = json!({
        "queries": queries,
        "fullPage": full_page,
        "maxTextBytes": PROBE_TEXT_BYTES,
        "maxNodes": PROBE_NODES,
    });
    let expression = format!("({})({arg})", query::with_engine(PROBE_JS));
    let world = page
        .secondary_execution_context()
        .await
        .ok()
        .flatten()
        .ok_or("the isolated world that measures credential fields is not available")?;
    let value = evaluate(page, &expression, Some(world))
        .await
        .map_err(|f| format!("cannot measure credential fields: {}", f.message))?;
    serde_json::from_value(value).map_err(|e| format!("cannot read the field measures: {e}"))
}

async fn raw(page: &Page, full_page: bool, quality: u8) -> Result<Vec<u8>, ActionFailure> {
    let params = ScreenshotParams::builder()
        .format(CaptureScreenshotFormat::Jpeg)
        .quality(i64::from(quality))
        .full_page(full_page)
        .build();
    page.screenshot(params)
        .await
        .map_err(|e| failed(format!("screenshot failed: {e}")))
}
