//! Every selector form against one page of ambiguous text and roles, in real Chromium: two
//! "Cancel" texts (a button and a paragraph), a hidden duplicate button placed before the
//! visible one, labelled inputs, a searchbox, and nested lists for `>>` and `nth=`. Each row
//! extracts the element the selector picks (an action's element: the first visible match) and
//! checks its id; each selector that must match nothing is waited on to be `detached`.

mod common;

use common::Harness;
use common::Page;
use pilothouse::RunState;
use serde_json::json;

const PAGE: &str = r#"<!doctype html><html><head><title>Selectors</title></head><body>
<p id="p-cancel">You can cancel anytime.</p>
<section id="dialog">
  <button id="b-hidden" style="display:none">Cancel</button>
  <button id="b-cancel">Cancel</button>
  <button id="b-save" aria-label="Save draft"><span>&#128190;</span></button>
  <a id="a-help" href="/help">Help <b>centre</b></a>
  <input id="i-send" type="submit" value="Send now">
</section>
<form onsubmit="return false">
  <label for="i-email">Email address</label><input id="i-email" type="email">
  <label>Password <input id="i-pw" type="password"></label>
  <input id="i-search" type="search" placeholder="Search orders">
  <input id="i-agree" type="checkbox" aria-labelledby="agree-text"><span id="agree-text">I agree</span>
  <select id="s-colour" aria-label="Colour"><option>Red</option></select>
  <input id="i-phone" placeholder="Phone number">
</form>
<h2 id="h-orders">Orders</h2>
<ul id="outer">
  <li id="li-1">Order 1 <ul><li id="li-1a">Item A</li><li id="li-1b">Item B <button id="b-buy-1b">Buy</button></li></ul></li>
  <li id="li-2">Order 2 <ul><li id="li-2a">Item C <button id="b-buy-2a">Buy</button></li></ul></li>
</ul>
<img id="img-logo" width="20" height="20" alt="Company logo" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
</body></html>"#;

/// Selector → the id of the element an action on it uses.
const PICKS: &[(&str, &str)] = &[
    ("#b-cancel", "b-cancel"),
    // Visible-first: the hidden duplicate comes first in the document.
    ("button", "b-cancel"),
    ("css=#dialog > button", "b-cancel"),
    // Substring in any case: the paragraph comes first.
    ("text=Cancel", "p-cancel"),
    ("text=CANCEL any", "p-cancel"),
    // Exact: only the buttons; the visible one.
    ("text=\"Cancel\"", "b-cancel"),
    ("text='Cancel'", "b-cancel"),
    ("\"Cancel\"", "b-cancel"),
    // The smallest element holding text split across inline children, and an input's value.
    ("text=Help centre", "a-help"),
    ("text=Send now", "i-send"),
    ("role=button[name=\"Cancel\"]", "b-cancel"),
    ("role=button[name*=\"ance\"]", "b-cancel"),
    ("role=button[name='cancel' i]", "b-cancel"),
    ("role=button[name=\"Save draft\"]", "b-save"),
    ("role=button[name=\"Send now\"]", "i-send"),
    ("role=link[name=\"Help centre\"]", "a-help"),
    ("role=textbox[name=\"Email address\"]", "i-email"),
    ("role=textbox[name=\"Password\"]", "i-pw"),
    ("role=searchbox", "i-search"),
    ("role=searchbox[name=\"Search orders\"]", "i-search"),
    ("role=checkbox[name=\"I agree\"]", "i-agree"),
    ("role=combobox[name=\"Colour\"]", "s-colour"),
    ("role=textbox[name=\"Phone number\"]", "i-phone"),
    ("role=heading[name=\"Orders\"][level=2]", "h-orders"),
    ("role=img[name=\"Company logo\"]", "img-logo"),
    (
        "role=button[name=\"Cancel\"][include-hidden] >> nth=0",
        "b-hidden",
    ),
    ("role=listitem >> nth=1", "li-1a"),
    ("#outer > li >> nth=-1", "li-2"),
    ("#outer > li >> li", "li-1a"),
    ("#outer > li >> li >> nth=2", "li-2a"),
    ("#outer > li:has-text(\"Order 2\") >> button", "b-buy-2a"),
    (
        "li:has-text(\"Item B\") >> role=button[name=\"Buy\"]",
        "b-buy-1b",
    ),
    ("text=Order 2 >> text=Buy", "b-buy-2a"),
    ("li:text(\"Item C\")", "li-2a"),
    ("button:visible", "b-cancel"),
    ("button:text-is(\"Buy\") >> nth=-1", "b-buy-2a"),
];

/// Selectors that match nothing on the page.
const NOTHING: &[&str] = &[
    "text=\"cancel\"",
    "text=\"Cance\"",
    "role=button[name=\"cancel\"]",
    "role=button[name=\"Cance\"]",
    "role=textbox[name=\"Search orders\"]",
    "role=button[name=\"Nope\"]",
    "#outer > li >> nth=5",
    "li:has-text(\"Item Z\")",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_selector_form_picks_the_element_playwright_would() {
    let h = Harness::new(vec![("/", Page::Html(PAGE.into()))])
        .start()
        .await;
    let mut steps = vec![json!({"action": "goto", "url": h.url("/")})];
    for (i, (selector, _)) in PICKS.iter().enumerate() {
        steps.push(
            json!({"action": "extract", "selector": selector, "mode": "html",
                          "store_as": format!("pick{i}")}),
        );
    }
    for selector in NOTHING {
        steps.push(
            json!({"action": "wait_for", "selector": selector, "state": "detached",
                          "timeout_ms": 1000}),
        );
    }
    // `visible` holds when any match is visible, `hidden` when none is.
    steps.push(json!({"action": "wait_for", "selector": "text=\"Cancel\"", "timeout_ms": 1000}));
    steps.push(
        json!({"action": "wait_for", "selector": "#b-hidden", "state": "hidden",
                      "timeout_ms": 1000}),
    );
    let request = json!({
        "driver": {"type": "script", "steps": steps},
        "limits": {"action_timeout_ms": 2000, "max_steps": 100},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let (_, status) = h.run_json(&request.to_string()).await;
    assert_eq!(status.state, RunState::Completed, "{:#?}", status.error);
    let mut wrong = Vec::new();
    for (i, (selector, id)) in PICKS.iter().enumerate() {
        let html = status.data[&format!("pick{i}")]
            .as_str()
            .unwrap_or_default();
        let open_tag = html.split('>').next().unwrap_or_default();
        if !open_tag.contains(&format!("id=\"{id}\"")) {
            wrong.push(format!("{selector}: expected #{id}, picked {open_tag}>"));
        }
    }
    assert!(wrong.is_empty(), "wrong picks:\n{}", wrong.join("\n"));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_that_matches_nothing_fails_its_action_naming_it() {
    let h = Harness::new(vec![("/", Page::Html(PAGE.into()))])
        .start()
        .await;
    let request = json!({
        "driver": {"type": "script", "steps": [
            {"action": "goto", "url": h.url("/")},
            {"action": "click", "selector": "role=button[name=\"Archive all\"]"}]},
        "limits": {"action_timeout_ms": 800},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let (_, status) = h.run_json(&request.to_string()).await;
    assert_eq!(status.state, RunState::Failed);
    let message = status.error.map(|e| e.message).unwrap_or_default();
    assert!(
        message.contains("role=button[name=\"Archive all\"]") && message.contains("timed out"),
        "{message}"
    );
    h.finish().await;
}
