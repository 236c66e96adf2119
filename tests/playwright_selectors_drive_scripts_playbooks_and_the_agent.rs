//! `text=`, `role=` and `:has-text()` selectors end to end on a real page: a script cancels an
//! order through them (type, select, click, wait_for, extract), a playbook finds its element
//! through a `role=` fallback and verifies with `text=`, the agent's `browser` tool clicks by
//! role (against a scripted model server), and a malformed selector is refused at submit with
//! its field and the accepted forms.

mod common;

use common::Harness;
use common::Page;
use common::model::{Model, Planned, browser, serve_model};
use pilothouse::{FieldError, RunRequest, RunState, SubmitError};
use serde_json::json;

const ORDERS: &str = r#"<!doctype html><html><head><title>Orders</title></head><body>
<p>Cancel an order within a day of placing it.</p>
<input type="search" placeholder="Search orders" id="q">
<label for="why">Reason</label>
<select id="why"><option value="">Pick one</option><option value="slow">Too slow</option></select>
<ul>
  <li class="order">Order 1001 <button class="x">Cancel</button></li>
  <li class="order">Order 1002 <button class="x">Cancel</button></li>
</ul>
<div id="confirm" hidden><p>Are you sure?</p><button class="primary">Confirm</button></div>
<p id="result" role="status"></p>
<script>
let chosen = null;
for (const b of document.querySelectorAll('li.order button')) {
  b.addEventListener('click', () => {
    chosen = b.parentElement.firstChild.textContent.trim();
    document.getElementById('confirm').hidden = false;
  });
}
document.querySelector('#confirm button').addEventListener('click', () => {
  const q = document.getElementById('q').value, why = document.getElementById('why').value;
  document.getElementById('result').textContent = chosen + ' cancelled (search ' + q + ', ' + why + ')';
  document.getElementById('confirm').hidden = true;
});
</script></body></html>"#;

const GUARDRAILS: &str = r#"{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

fn pages() -> Vec<(&'static str, Page)> {
    vec![("/", Page::Html(ORDERS.into()))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_cancels_an_order_through_text_and_role_selectors() {
    let h = Harness::new(pages()).start().await;
    let request = json!({
        "driver": {"type": "script", "steps": [
            {"action": "goto", "url": h.url("/")},
            {"action": "type", "selector": "role=searchbox[name=\"Search orders\"]", "text": "1002"},
            {"action": "select", "selector": "role=combobox[name=\"Reason\"]", "label": "Too slow"},
            {"action": "click", "selector": "li:has-text(\"Order 1002\") >> role=button[name=\"Cancel\"]"},
            {"action": "wait_for", "selector": "text=Are you sure"},
            {"action": "click", "selector": "text=\"Confirm\""},
            {"action": "wait_for", "selector": "text=\"Confirm\"", "state": "hidden"},
            {"action": "extract", "selector": "role=status", "store_as": "result"}]},
        "guardrails": serde_json::from_str::<serde_json::Value>(GUARDRAILS).unwrap()
    });
    let (_, status) = h.run_json(&request.to_string()).await;
    assert_eq!(status.state, RunState::Completed, "{:#?}", status.error);
    assert_eq!(
        status.data["result"],
        "Order 1002 cancelled (search 1002, slow)"
    );
    h.finish().await;
}

const PLAYBOOK: &str = r##"
id: cancel_by_role
name: Cancel by role
description: Cancel the first order, finding the button by role when the CSS is stale.
start_url: "{base}/"
steps:
  - action: click
    description: the first order's cancel button
    selector:
      primary: "button.cancel-btn"
      fallbacks: ["text=Nothing like this", "role=button[name*='Cancel'] >> nth=0"]
    verify: {element_visible: "text=Are you sure", timeout_ms: 3000}
  - action: click
    selector: {primary: "text=\"Confirm\""}
    verify: {element_gone: "#confirm:visible"}
  - action: extract
    selector: "role=status"
    store_as: result
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_falls_back_to_a_role_selector_and_verifies_by_text() {
    let h = Harness::new(pages()).start().await;
    let yaml = PLAYBOOK.replace("{base}", h.url("").trim_end_matches('/'));
    let request = format!(
        r#"{{"driver": {{"type": "playbook", "playbook": {}}}, "guardrails": {GUARDRAILS}}}"#,
        serde_json::to_string(&yaml).unwrap()
    );
    let (_, status) = h.run_json(&request).await;
    assert_eq!(status.state, RunState::Completed, "{:#?}", status.error);
    assert_eq!(status.data["result"], "Order 1001 cancelled (search , )");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_clicks_by_role() {
    let plan = vec![
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "role=button[name=\"Cancel\"] >> nth=1"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "text=\"Confirm\""}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "extract", "selector": "role=status"}),
        )]),
        Planned::Calls(vec![("done", json!({"answer": "cancelled"}).to_string())]),
    ];
    let model = Model::new(plan, "no-secret-in-this-run", vec![]);
    let base_url = serve_model(model.clone()).await;
    let h = Harness::new(pages()).start().await;
    let request = json!({
        "start_url": h.url("/"),
        "driver": {"type": "agent", "directive": "Cancel order 1002.", "model": "scripted-model",
                   "base_url": base_url, "api_key": "test-key", "max_steps": 6},
        "guardrails": serde_json::from_str::<serde_json::Value>(GUARDRAILS).unwrap()
    });
    let (_, status) = h.run_json(&request.to_string()).await;
    assert_eq!(status.state, RunState::Completed, "{:#?}", status.error);
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    let seen = model.seen.lock().unwrap().clone();
    let last_result = seen
        .last()
        .and_then(|r| r["messages"].as_array().cloned())
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "tool").cloned())
        .and_then(|m| m["content"].as_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(
        last_result.contains("Order 1002 cancelled"),
        "{last_result}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_selector_is_refused_at_submit_with_its_field() {
    let h = Harness::new(vec![]).start().await;
    let request = RunRequest::from_json(
        r##"{"driver": {"type": "script", "steps": [
            {"action": "goto", "url": "https://example.com/"},
            {"action": "click", "selector": "#ok"},
            {"action": "click", "selector": "role=buton[name='Cancel']"},
            {"action": "wait_for", "selector": "text=\"Cancel"}]}}"##,
    )
    .unwrap();
    let errors = refusals(&h, request).await;
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["driver.steps[2].selector", "driver.steps[3].selector"]
    );
    assert!(
        errors[0].message.starts_with(
            "`role=buton[name='Cancel']` is not a valid selector: unknown role `buton`"
        ) && errors[0].message.contains("role=button[name=\"Cancel\"]"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1].message.contains("quote is not closed"),
        "{}",
        errors[1].message
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_with_a_malformed_fallback_or_check_is_refused_naming_both() {
    let h = Harness::new(vec![]).start().await;
    let yaml = r#"
id: bad_selectors
start_url: "https://example.com/"
steps:
  - action: click
    selector: {primary: "text=Cancel", fallbacks: ["role=button[name=Cancel]"]}
    verify: {element_visible: "li >> nth=first"}
"#;
    let request = json!({"driver": {"type": "playbook", "playbook": yaml}});
    let request = RunRequest::from_json(&request.to_string()).unwrap();
    let errors = refusals(&h, request).await;
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "driver.playbook.steps[0].selector.fallbacks[0]",
            "driver.playbook.steps[0].verify.element_visible"
        ],
        "{errors:#?}"
    );
    assert!(
        errors[0]
            .message
            .contains("must be quoted: [name=\"Cancel\"]")
    );
    assert!(errors[1].message.contains("nth= takes a whole number"));
    h.finish().await;
}

/// The field errors a submit of `request` is refused with; fails the test if it is admitted.
async fn refusals(h: &Harness, request: RunRequest) -> Vec<FieldError> {
    match h.handle.submit(request).await {
        Err(SubmitError::Invalid(e)) => e.errors,
        other => panic!("expected Invalid, got {other:?}"),
    }
}
