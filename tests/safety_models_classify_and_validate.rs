//! The optional safety models (`[safety]`) against a scripted utility model on 127.0.0.1:
//! the directive classifier sets an unset task kind and scopes the run to the hosts its
//! directive names; the click validator lets a safe click through (once asked, never again)
//! and refuses one it judges destructive while the run goes on. With the utility model
//! unreachable, both take the strict choice (`read`; the click refused) and count
//! `pilothouse_safety_degraded_total{component}`.

mod common;

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use common::harness::SHUTDOWN_GRACE;
use common::model::{Model, Planned, READ_ACTIONS, browser, serve_api, serve_model};
use common::{Harness, Page};
use futures::StreamExt;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pilothouse::{EventKind, RunEvent, RunState};
use serde_json::{Value, json};

const SHOP: &str = r#"<!doctype html><title>Basket</title><h1>Basket</h1>
<p id="count">0 items</p>
<button id="add" type="button" onclick="count.textContent = (parseInt(count.textContent) + 1) + ' items'">Add to basket</button>
<button id="empty" type="button" onclick="count.textContent = '0 items'">Empty basket</button>"#;

/// Every request the utility model got.
type Seen = Arc<Mutex<Vec<Value>>>;

/// Answers `classify` with `read` and `verdict` with unsafe for "Empty basket" only.
async fn utility(State(seen): State<Seen>, Json(request): Json<Value>) -> Json<Value> {
    seen.lock().unwrap().push(request.clone());
    let tool = request["tools"][0]["function"]["name"]
        .as_str()
        .unwrap_or("");
    let user = request["messages"][1]["content"].as_str().unwrap_or("");
    let args = match tool {
        "classify" => json!({"task_kind": "read", "needs_login": false}),
        _ if user.contains("Empty basket") => {
            json!({"safe": false, "reason": "it removes every item"})
        }
        _ => json!({"safe": true}),
    };
    Json(
        json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": "u1", "type": "function", "function": {"name": tool, "arguments": args.to_string()}}]}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}),
    )
}

async fn serve_utility() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(utility))
        .with_state(seen.clone());
    (serve_api(app).await, seen)
}

/// An agent request on `url` with `directive`; `guardrails` as given.
fn agent_request(url: &str, directive: &str, model: &str, guardrails: Value) -> String {
    json!({"start_url": url,
           "driver": {"type": "agent", "directive": directive, "model": "scripted-model",
                      "base_url": model, "api_key": "test-key", "max_steps": 6},
           "guardrails": guardrails})
    .to_string()
}

/// The events of a finished run, and the messages of its log events.
async fn events_of(h: &Harness, run_id: pilothouse::RunId) -> (Vec<RunEvent>, String) {
    let events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let logs = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    (events, logs)
}

fn blocks(events: &[RunEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::GuardrailBlocked { check, reason, .. } => {
                Some((check.clone(), reason.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A harness whose `[safety]` asks `utility` (classifier and/or click validator).
async fn harness(utility: String, classify: bool, clicks: bool) -> Harness {
    Harness::new(vec![("/", Page::Html(SHOP.into()))])
        .config(move |c| {
            c.safety.classify_directives = classify;
            c.safety.validate_clicks = clicks;
            c.safety.base_url = Some(utility);
            c.safety.model = Some("utility".into());
            c.safety.timeout_ms = 3_000;
            c.agent.retry_backoff_ms = 10;
        })
        .start()
        .await
}

/// The `pilothouse_safety_degraded_total` count of each component, from one snapshot (taking
/// one drains what it read).
fn degraded_counts(snapshotter: &metrics_util::debugging::Snapshotter) -> (u64, u64) {
    let snapshot = snapshotter.snapshot().into_vec();
    let count = |component: &str| {
        snapshot
            .iter()
            .filter(|(key, ..)| key.key().name() == "pilothouse_safety_degraded_total")
            .filter(|(key, ..)| key.key().labels().any(|l| l.value() == component))
            .map(|(.., value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum::<u64>()
    };
    (count("directive_classifier"), count("click_validator"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classifier_scopes_an_agent_run_to_read_and_the_hosts_it_names() {
    let (utility_url, seen) = serve_utility().await;
    let h = harness(utility_url, true, false).await;
    let port = url::Url::parse(&h.url("/")).unwrap().port().unwrap();
    let plan = vec![
        Planned::Calls(vec![browser(
            json!({"action": "goto", "url": format!("http://localhost:{port}/")}),
        )]),
        Planned::Calls(vec![("done", json!({"answer": "0 items"}).to_string())]),
    ];
    let mut model = Model::new(plan, "no-secret-here", vec![]);
    model.expected_actions = READ_ACTIONS.to_vec();
    let model_url = serve_model(model.clone()).await;
    let directive = format!("Read how many items are in the basket on {}", h.url("/"));
    let json = agent_request(
        &h.url("/"),
        &directive,
        &model_url,
        json!({"allow_private_networks": true}),
    );
    let run_id = h.submit_json(&json).await;
    let (events, logs) = events_of(&h, run_id).await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    h.orchestrator.shutdown(SHUTDOWN_GRACE).await;

    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let problems = model.problems.lock().unwrap().clone();
    assert!(
        problems.is_empty(),
        "the agent was offered read actions only: {problems:#?}"
    );
    assert!(logs.contains("task_kind read"), "{logs}");
    assert!(
        logs.contains("allowed_domains [127.0.0.1]"),
        "scoped to the directive's host: {logs}"
    );
    let blocked = blocks(&events);
    assert!(
        blocked.iter().any(|(check, _)| check == "domain"),
        "a host the directive does not name is out of scope: {blocked:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one classification");
    let user = seen[0]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(&directive), "{user}");
    h.env.assert_no_browsers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_click_validator_passes_a_safe_click_once_and_refuses_a_destructive_one() {
    let (utility_url, seen) = serve_utility().await;
    let h = harness(utility_url, false, true).await;
    let model = Model::new(basket_plan(), "no-secret-here", vec![]);
    let model_url = serve_model(model.clone()).await;
    let guardrails = json!({"allowed_domains": ["127.0.0.1"], "allow_private_networks": true,
                            "task_kind": "interact"});
    let json = agent_request(
        &h.url("/"),
        "Put two things in the basket.",
        &model_url,
        guardrails,
    );
    let run_id = h.submit_json(&json).await;
    let (events, _) = events_of(&h, run_id).await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    h.orchestrator.shutdown(SHUTDOWN_GRACE).await;

    assert_eq!(
        status.state,
        RunState::Completed,
        "the run goes on: {status:#?}"
    );
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "{problems:#?}");
    let seen_by_agent = model.seen.lock().unwrap().clone();
    let refused = last_tool_result(&seen_by_agent[2]);
    assert!(
        refused.starts_with("Error: Guardrail blocked: the click validator judged `#empty` destructive: it removes every item"),
        "{refused}"
    );
    assert!(
        last_tool_result(&seen_by_agent[4]).contains("2 items"),
        "both safe clicks happened"
    );
    let blocked = blocks(&events);
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0].0, "click_validator");
    let verdicts = seen.lock().unwrap().len();
    assert_eq!(
        verdicts, 2,
        "Add to basket was asked about once, Empty basket once"
    );
    let usage = status.usage.expect("usage");
    assert_eq!(
        usage.total_tokens,
        5 * 110 + 2 * 10,
        "the validator's tokens count toward the run"
    );
    h.env.assert_no_browsers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_utility_model_means_read_and_refused_clicks_and_is_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1", listener.local_addr().unwrap())
    };
    let h = harness(dead, true, true).await;
    let plan = vec![
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#add"}),
        )]),
        Planned::Calls(vec![("done", json!({"answer": "nothing"}).to_string())]),
    ];
    let mut model = Model::new(plan, "no-secret-here", vec![]);
    model.expected_actions = READ_ACTIONS.to_vec();
    let model_url = serve_model(model.clone()).await;
    let guardrails = json!({"allowed_domains": ["127.0.0.1"], "allow_private_networks": true});
    let json = agent_request(
        &h.url("/"),
        "Add a kettle to the basket.",
        &model_url,
        guardrails,
    );
    let run_id = h.submit_json(&json).await;
    let (events, logs) = events_of(&h, run_id).await;
    h.orchestrator.shutdown(SHUTDOWN_GRACE).await;

    let problems = model.problems.lock().unwrap().clone();
    assert!(
        problems.is_empty(),
        "the strict kind, read, was offered: {problems:#?}"
    );
    assert!(logs.contains("task_kind read"), "{logs}");
    let blocked = blocks(&events);
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert!(
        blocked[0].1.contains("could not judge this click"),
        "{blocked:?}"
    );
    assert_eq!(
        degraded_counts(&snapshotter),
        (1, 1),
        "each check counted once"
    );
    h.env.assert_no_browsers().await;
}

/// Add, empty (refused), add, read the count, done.
fn basket_plan() -> Vec<Planned> {
    let click =
        |id: &str| Planned::Calls(vec![browser(json!({"action": "click", "selector": id}))]);
    vec![
        click("#add"),
        click("#empty"),
        click("#add"),
        Planned::Calls(vec![browser(
            json!({"action": "extract", "selector": "#count"}),
        )]),
        Planned::Calls(vec![("done", json!({"answer": "2 items"}).to_string())]),
    ]
}

fn last_tool_result(request: &Value) -> String {
    let messages = request["messages"].as_array().unwrap();
    let tool = messages.iter().rev().find(|m| m["role"] == "tool").unwrap();
    tool["content"].as_str().unwrap().to_owned()
}
