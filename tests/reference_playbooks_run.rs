//! Playbooks written in the reference system's format (`tests/playbooks/*.yaml`, loaded by id
//! and unchanged) run against a real page: arguments under `params:`, `key_press` typing and
//! pressing, `inject_into`, a selector fallback, every `expect_*` check, `on_failure: retry`,
//! the default `llm_recover` (a retry when no agent is configured; the agent hand-off when one
//! is), and the playbook's guardrails, which only narrow the request's — for the hand-off too.

mod common;

use common::model::{Model, Planned, browser, serve_model};
use common::{Harness, Page, Site};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState, RunStatus};
use serde_json::{Value, json};

/// The orders page: a search box that lists the matching order on Enter; its Cancel button
/// ignores the first press (the retry gets it), opens a confirmation that Confirm closes; a
/// note box that saves by fetching `/note/<text>` (so the site's log shows it).
const ORDERS: &str = include_str!("pages/orders.html");

/// A harness whose playbook dir is `tests/playbooks`.
async fn harness() -> Harness {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/playbooks");
    Harness::new(vec![("/orders", Page::Html(ORDERS.into()))])
        .config(move |c| {
            c.playbooks.dir = dir;
            c.playbooks.retry_pause_ms = 200;
        })
        .start()
        .await
}

fn request(id: &str, params: Value, agent: Option<Value>) -> String {
    let mut driver = json!({"type": "playbook", "playbook": id, "params": params});
    if let Some(agent) = agent {
        driver["agent"] = agent;
    }
    json!({
        "driver": driver,
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
        "limits": {"action_timeout_ms": 3000}
    })
    .to_string()
}

async fn run(h: &Harness, json: &str) -> (RunStatus, Vec<RunEvent>) {
    let run_id = h.submit_json(json).await;
    let events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    (status, events)
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

/// `(action name, input summary)` of every action that ran, in order.
fn actions(events: &[RunEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action { action, input, .. } => Some((action.clone(), input.clone())),
            _ => None,
        })
        .collect()
}

fn has_log(logs: &[String], needle: &str) -> bool {
    logs.iter().any(|l| l.contains(needle))
}

/// The counts the playbook asked for (200 pages, 10 errors) are held to the request's defaults.
const NARROWED: &str = "effective guardrails: allowed_domains [127.0.0.1]; blocked_domains none; \
     private networks allowed; task_kind interact; max_urls_visited 50; max_consecutive_errors 5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_cancel_order_runs_unchanged() {
    let h = harness().await;
    let params = json!({"base_url": "{base}", "order_id": "123"});
    let (status, events) = run(&h, &request("cancel_order", params, None)).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["status"], "cancelled");
    let logs = logs(&events);
    assert!(
        has_log(&logs, "using fallback `input[type='search']`"),
        "{logs:?}"
    );
    // The Cancel button ignores its first press: `on_failure: retry` presses it again.
    assert!(
        has_log(&logs, "step 5 (Click cancel button) failed"),
        "{logs:?}"
    );
    assert!(has_log(&logs, "auth_required, no auth block"), "{logs:?}");
    assert!(has_log(&logs, "enable_llm_action_check false"), "{logs:?}");
    assert!(logs.iter().any(|l| l.starts_with(NARROWED)), "{logs:?}");
    // `inject_into` replaced the step's placeholder text with the three digits of the order.
    let actions = actions(&events);
    assert!(
        actions.contains(&("type".into(), "<focused> (3 chars)".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("press_key".into(), "Enter".into())),
        "{actions:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_expect_check_is_retried_then_fails_naming_the_step() {
    let h = harness().await;
    let params = json!({"base_url": "{base}", "order_id": "999"});
    let (status, events) = run(&h, &request("cancel_order", params, None)).await;
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let error = status.error.unwrap();
    // `llm_recover` (the default) with no agent configured retries once, then fails.
    assert!(
        error.message.starts_with(
            "step 4 (Submit search): Verification failed: element_visible `table tbody tr.match`"
        ),
        "{error:?}"
    );
    assert!(has_log(&logs(&events), "retrying once"));
    assert!(status.recovery.is_none());
    h.finish().await;
}

/// The hand-off's model: it tries the second host the playbook named (refused: the request
/// allows only 127.0.0.1), then writes the note where the page has it now, saves it, and is
/// done.
fn note_taker(outside: &str) -> Model {
    let plan = vec![
        Planned::Calls(vec![browser(
            json!({"action": "goto", "url": format!("{outside}/")}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "type", "selector": "#note-input", "text": "leave at the door"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#note-save"}),
        )]),
        Planned::Calls(vec![(
            "done",
            json!({"answer": "note saved on order 456"}).to_string(),
        )]),
    ];
    Model::new(plan, "no-secret-in-this-run", vec![])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_recover_hands_off_within_the_playbooks_narrowed_guardrails() {
    let outside = Site::serve_at("127.0.0.2", vec![("/", Page::Html("outside".into()))]).await;
    let outside_url = format!("http://{}", outside.addr);
    let model = note_taker(&outside_url);
    let base_url = serve_model(model.clone()).await;
    let h = harness().await;
    let agent = json!({"directive": "", "model": "scripted-model", "base_url": base_url,
                       "api_key": "test-key"});
    let params = json!({"base_url": "{base}", "order_id": 456, "note": "leave at the door"});
    let (status, events) = run(&h, &request("order_notes_handoff", params, Some(agent))).await;
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["answer"], "note saved on order 456");
    let recovery = status.recovery.expect("the hand-off is recorded");
    assert_eq!((recovery.step, recovery.action.as_str()), (3, "key_press"));
    assert!(
        recovery.error.contains("textarea#order-note"),
        "{recovery:?}"
    );
    let logs = logs(&events);
    assert!(logs.iter().any(|l| l.starts_with(NARROWED)), "{logs:?}");
    assert!(has_log(&logs, "handing the run to the agent"), "{logs:?}");
    // The search step typed and pressed Enter as one step, before the hand-off.
    let actions = actions(&events);
    assert!(actions.iter().any(|(a, _)| a == "sequence"), "{actions:?}");
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::GuardrailBlocked { target, .. } if target.starts_with(&outside_url))));
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    let saved = h.site.requests();
    assert!(
        saved.iter().any(|p| p == "/note/leave%20at%20the%20door"),
        "{saved:?}"
    );
    h.finish().await;
}
