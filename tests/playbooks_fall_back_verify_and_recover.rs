//! Playbook runs on real pages: a broken primary selector succeeds through its fallback (and
//! verification checks the result), a step that fails twice is recovered by the agent hand-off
//! (against a scripted model server), `on_failure: abort` fails at once with its
//! `failure_message`, and bad playbooks are refused at submit — naming the step and field —
//! before any browser starts.

mod common;

use common::harness::SHUTDOWN_GRACE;
use common::model::{Model, Planned, browser, serve_model};
use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState, RunStatus, SubmitError};
use serde_json::json;

const HOME: &str = r#"<!doctype html><title>Orders</title><h1>Orders</h1>
<a id="open-123" class="order-link" href="/order/123">Order 123</a>"#;
const ORDER: &str = r#"<!doctype html><title>Order 123</title><h1>Order 123</h1>
<p id="status">shipped</p><button id="cancel-real" type="button"
 onclick="document.getElementById('status').textContent='cancelled'">Cancel</button>"#;

fn site_pages() -> Vec<(&'static str, Page)> {
    vec![
        ("/", Page::Html(HOME.into())),
        ("/order/123", Page::Html(ORDER.into())),
    ]
}

fn playbook_request(yaml: &str, params: serde_json::Value, extra: serde_json::Value) -> String {
    let mut driver = json!({"type": "playbook", "playbook": yaml, "params": params});
    if let Some(agent) = extra.get("agent") {
        driver["agent"] = agent.clone();
    }
    json!({
        "driver": driver,
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    })
    .to_string()
}

const LOOKUP: &str = r##"
id: order_status
name: Order status
description: Open an order from the list and read its status.
parameters:
  - name: order
    type: int
    description: the order number
start_url: "{base}/"
steps:
  - action: click
    description: open the order
    selector:
      primary: "#open-{order}-renamed"
      fallbacks: ["a.missing-class", "a.order-link"]
    verify: {url_contains: "/order/{order}", element_visible: "#status"}
  - action: extract
    selector: "#status"
    store_as: status
    verify: {text_on_page: "Order {order}"}
"##;

/// Runs the request in `json` against the order site on its own orchestrator, then shuts down
/// and checks that no browser is left; the status, the events and the order page's URL.
async fn run(json: &str) -> (RunStatus, Vec<RunEvent>, String) {
    let h = Harness::new(site_pages()).start().await;
    let run_id = h.submit_json(json).await;
    let events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    let order_url = h.url("/order/123");
    h.finish().await;
    (status, events, order_url)
}

fn logs(events: &[RunEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_primary_selector_succeeds_through_a_fallback() {
    let json = playbook_request(LOOKUP, json!({"order": 123}), json!({}));
    let (status, events, order_url) = run(&json).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["status"], "shipped");
    assert_eq!(status.last_url.as_deref(), Some(order_url.as_str()));
    let logs = logs(&events);
    assert!(
        logs.iter()
            .any(|l| l.contains("using fallback `a.order-link`")),
        "{logs:?}"
    );
    assert!(status.recovery.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_fails_at_once_with_the_failure_message() {
    let yaml = r##"
id: strict
name: Strict
steps:
  - action: goto
    url: "{base}/"
  - action: click
    selector: "#no-such-button"
    on_failure: abort
    failure_message: the cancel button is gone; the page layout changed
"##;
    let json = playbook_request(yaml, json!({}), json!({}));
    let json = json.replace(
        r#""guardrails""#,
        r#""limits": {"action_timeout_ms": 1000}, "guardrails""#,
    );
    let (status, events, _) = run(&json).await;
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(
        error.message,
        "the cancel button is gone; the page layout changed"
    );
    assert_eq!(error.details["step"], 2);
    assert!(
        !logs(&events).iter().any(|l| l.contains("retrying")),
        "abort must not retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_fails_twice_is_recovered_by_the_agent() {
    let model = recovering_model();
    let base_url = serve_model(model.clone()).await;
    let json = playbook_request(
        CANCEL_ORDER,
        json!({"order": 123}),
        json!({"agent": {"directive": "", "model": "scripted-model", "base_url": base_url,
                         "api_key": "test-key"}}),
    );
    let json = json.replace(
        r#""guardrails""#,
        r#""limits": {"action_timeout_ms": 1000}, "guardrails""#,
    );
    let (status, events, order_url) = run(&json).await;
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["answer"], "order 123 is cancelled");
    let recovery = status.recovery.expect("recovery recorded");
    assert_eq!((recovery.step, recovery.action.as_str()), (2, "click"));
    assert!(recovery.error.contains("#cancel-button"), "{recovery:?}");
    let logs = logs(&events);
    assert!(logs.iter().any(|l| l.contains("retrying once")), "{logs:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("handing the run to the agent")),
        "{logs:?}"
    );
    assert_hand_off_prompt(&model, &order_url);
}

/// A playbook whose cancel button selector is wrong: the click fails twice.
const CANCEL_ORDER: &str = r##"
id: cancel_order
name: Cancel an order
description: Cancel order {order} and confirm it is cancelled.
parameters:
  - name: order
    type: int
steps:
  - action: goto
    url: "{base}/order/{order}"
  - action: click
    description: press the cancel button
    selector: "#cancel-button"
    verify: {text_on_page: cancelled}
  - action: extract
    selector: "#status"
    store_as: status
"##;

/// A model that clicks the real cancel button, reads the status and is done.
fn recovering_model() -> Model {
    let plan = vec![
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#cancel-real"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "extract", "selector": "#status"}),
        )]),
        Planned::Calls(vec![(
            "done",
            json!({"answer": "order 123 is cancelled"}).to_string(),
        )]),
    ];
    Model::new(plan, "no-secret-in-this-run", vec![])
}

/// The hand-off prompt says what failed, where, and what was left.
fn assert_hand_off_prompt(model: &Model, order_url: &str) {
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    let first_user = seen[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap()
        .to_owned();
    for needle in [
        "Cancel an order",
        "Failed step 2 (press the cancel button)",
        "#cancel-button",
        &format!("Current URL: {order_url}"),
        "3. extract",
        "[web-content-start]",
    ] {
        assert!(
            first_user.contains(needle),
            "no `{needle}` in:\n{first_user}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_playbooks_are_refused_at_submit_naming_step_and_field() {
    let h = Harness::new(site_pages()).start().await;
    let cases = [
        (
            "id: x\nsteps:\n  - action: goto\n    url: \"{base}/\"\n  - action: teleport\n",
            json!({}),
            "driver.playbook.steps[1].action",
        ),
        (LOOKUP, json!({}), "driver.params.order"),
        (
            "id: x\nsteps:\n  - action: click\n    selector: {primary: \"a[href\", fallbacks: []}\n",
            json!({}),
            "driver.playbook.steps[0].selector.primary",
        ),
        (
            "id: x\nsteps: [ {action: goto\n",
            json!({}),
            "driver.playbook.",
        ),
    ];
    for (yaml, params, field) in cases {
        let json = playbook_request(yaml, params, json!({}));
        match h.handle.submit(h.request(&json)).await {
            Err(SubmitError::Invalid(invalid)) => {
                assert!(
                    invalid.errors.iter().any(|e| e.field.starts_with(field)),
                    "expected an error at {field}: {invalid}"
                );
            }
            other => panic!("{yaml}: expected Invalid, got {other:?}"),
        }
    }
    assert!(
        h.handle.list().await.unwrap().is_empty(),
        "no run was admitted"
    );
    assert!(h.env.run_browsers().is_empty());
    let pool = h.handle.stats().await.unwrap().pool.unwrap();
    assert_eq!(pool.contexts_served, 0, "no pooled context was handed out");
    h.orchestrator.shutdown(SHUTDOWN_GRACE).await;
}
