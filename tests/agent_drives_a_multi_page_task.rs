//! The agent driver against a scripted OpenAI-compatible model server started here on
//! 127.0.0.1. The server checks what it receives — the tool schema, an observation, no
//! credential value anywhere, the API key — and replies with pre-planned tool calls: a login
//! across pages, one call the guardrails block and one malformed call (both survived), then
//! `done` with an answer matching the output schema. 429 and 500 replies are retried. A dead
//! endpoint ends a run with LLM_ERROR in bounded time, and the open breaker fails the next run
//! at once.

mod common;

use std::time::{Duration, Instant};

use common::harness::SHUTDOWN_GRACE;
use common::model::{Model, Planned, browser, serve_model};
use common::{Harness, Page, TestEnv};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, RunEvent, RunState};
use serde_json::{Value, json};

const SECRET: &str = "s3cret-Value-42";

const HOME: &str = r#"<!doctype html><title>Shop</title><h1>Shop</h1>
<a id="login-link" href="/login">Log in</a>"#;
const LOGIN: &str = r#"<!doctype html><title>Log in</title>
<label>User <input id="user"></label><label>Password <input id="pass" type="password"></label>
<button id="submit" type="button">Log in</button>
<script>document.getElementById('submit').onclick = () => {
  if (document.getElementById('pass').value === 's3cret-Value-42'
      && document.getElementById('user').value === 'ada') { location.href = '/account'; }
  else { document.body.append('wrong password'); }
};</script>"#;
const ACCOUNT: &str = r#"<!doctype html><title>Account</title><h1>Welcome back</h1>
<p id="balance">42.50</p>"#;

/// The text of the last tool result in a request's messages.
fn last_tool_result(request: &Value) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_logs_in_across_pages_and_survives_a_block_and_a_bad_call() {
    let plan = login_plan();
    let planned_replies = plan.len();
    let model = Model::new(plan, SECRET, vec!["password"]);
    let base_url = serve_model(model.clone()).await;
    let h = Harness::new(vec![
        ("/", Page::Html(HOME.into())),
        ("/login", Page::Html(LOGIN.into())),
        ("/account", Page::Html(ACCOUNT.into())),
    ])
    .config(|c| c.agent.retry_backoff_ms = 50)
    .start()
    .await;
    let json = json!({
        "start_url": h.url("/"),
        "driver": {"type": "agent", "directive": "Log in as ada and report the account balance.",
                   "model": "scripted-model", "base_url": base_url, "api_key": "test-key",
                   "max_steps": 10,
                   "output_schema": {"type": "object", "required": ["balance"],
                                     "properties": {"balance": {"type": "string"}}}},
        "credentials": {"password": SECRET},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let run_id = h.submit_json(&json.to_string()).await;
    let events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    let Harness {
        site,
        env,
        orchestrator,
        ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;

    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["answer"], json!({"balance": "42.50"}));
    assert_eq!(
        status.last_url.as_deref(),
        Some(site.url("/account").as_str())
    );
    let usage = status.usage.expect("token usage");
    assert_eq!(
        usage.calls,
        planned_replies as u32 - 2,
        "429 and 500 are not calls"
    );
    assert_eq!(usage.total_tokens, 110 * u64::from(usage.calls));
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        planned_replies,
        "every planned reply was asked for"
    );
    assert_read_back_and_logged(&seen, &events);
    assert_secret_never_written(&env);
    env.assert_no_browsers().await;
}

/// The credential never reached any file the run wrote.
fn assert_secret_never_written(env: &TestEnv) {
    for entry in walk(&env.dir.path().join("runs")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the credential",
            entry.display()
        );
    }
}

/// Two failed calls (429, 500), the login, a blocked goto, a malformed call, then the balance.
fn login_plan() -> Vec<Planned> {
    vec![
        Planned::Status(429),
        Planned::Status(500),
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#login-link"}),
        )]),
        Planned::Calls(vec![
            browser(json!({"action": "type", "selector": "#user", "text": "ada"})),
            browser(json!({"action": "type", "selector": "#pass", "credential_ref": "password"})),
        ]),
        Planned::Calls(vec![browser(
            json!({"action": "goto", "url": "http://evil.example/"}),
        )]),
        Planned::Calls(vec![(
            "browser",
            r##"{"action": "click", "selector": "#sub"##.to_owned(),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#submit"}),
        )]),
        Planned::Calls(vec![browser(
            json!({"action": "extract", "selector": "#balance"}),
        )]),
        Planned::Calls(vec![(
            "done",
            json!({"answer": {"balance": "42.50"}}).to_string(),
        )]),
    ]
}

/// What the model read back after the block and the malformed call, and that both are in the
/// run's events (the run went on after both).
fn assert_read_back_and_logged(seen: &[Value], events: &[RunEvent]) {
    assert!(
        last_tool_result(&seen[5]).starts_with("Error: Guardrail blocked"),
        "{}",
        last_tool_result(&seen[5])
    );
    assert!(
        last_tool_result(&seen[6]).contains("not JSON"),
        "{}",
        last_tool_result(&seen[6])
    );
    assert_eq!(last_tool_result(&seen[8]), "42.50");
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::GuardrailBlocked { target, .. } if target.contains("evil.example"))));
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Log { message, .. } if message.contains("malformed browser call"))));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_ends_the_run_with_llm_error_and_opens_the_breaker() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let h = Harness::new(vec![("/", Page::Html(HOME.into()))])
        .config(|c| {
            c.agent.retry_backoff_ms = 50;
            c.agent.base_url = Some(format!("http://127.0.0.1:{port}/v1"));
            c.agent.model = Some("any".into());
        })
        .start()
        .await;
    let json = json!({
        "start_url": h.url("/"),
        "driver": {"type": "agent", "directive": "Read the heading."},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let started = Instant::now();
    let run_id = h.submit_json(&json.to_string()).await;
    let status = h.wait(run_id).await;
    let took = started.elapsed();
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::LlmError);
    assert!(
        error.message.contains(&format!("127.0.0.1:{port}")),
        "{}",
        error.message
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // The breaker is open now: the next run fails at its first call, without retries.
    let run_id = h.submit_json(&json.to_string()).await;
    let status = h.wait(run_id).await;
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::LlmError);
    assert!(
        error.message.contains("circuit breaker open"),
        "{}",
        error.message
    );
    h.finish().await;
}

fn endless_model(plan: Vec<Planned>) -> Model {
    Model::new(plan, SECRET, vec![])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_budget_and_the_error_limit_end_agent_runs_clearly() {
    let h = Harness::new(vec![("/", Page::Html(HOME.into()))])
        .start()
        .await;
    let looping = the_step_budget_ends_a_looping_model(&h).await;
    let failing = the_error_limit_stops_a_failing_model(&h).await;
    for model in [&looping, &failing] {
        let problems = model.problems.lock().unwrap().clone();
        assert!(problems.is_empty(), "model server saw: {problems:#?}");
    }
    h.finish().await;
}

/// A model that never calls done runs out of steps; the model.
async fn the_step_budget_ends_a_looping_model(h: &Harness) -> Model {
    let observe = || Planned::Calls(vec![browser(json!({"action": "observe"}))]);
    let looping = endless_model((0..4).map(|_| observe()).collect());
    let base_url = serve_model(looping.clone()).await;
    let json = json!({
        "start_url": h.url("/"),
        "driver": {"type": "agent", "directive": "Look around.", "model": "scripted-model",
                   "base_url": base_url, "api_key": "test-key", "max_steps": 2},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let run_id = h.submit_json(&json.to_string()).await;
    let status = h.wait(run_id).await;
    let error = status.error.expect("an error");
    assert_eq!(error.code, ErrorCode::MaxSteps, "{error:?}");
    assert!(error.message.contains("all 2 steps"), "{}", error.message);
    assert_eq!(
        looping.seen.lock().unwrap().len(),
        3,
        "the third call found no budget left"
    );
    looping
}

/// A model whose every action fails is stopped by the consecutive-error limit; the model.
async fn the_error_limit_stops_a_failing_model(h: &Harness) -> Model {
    let missing = || {
        Planned::Calls(vec![browser(
            json!({"action": "click", "selector": "#gone"}),
        )])
    };
    let failing = endless_model((0..10).map(|_| missing()).collect());
    let base_url = serve_model(failing.clone()).await;
    let json = json!({
        "start_url": h.url("/"),
        "driver": {"type": "agent", "directive": "Click the gone button.", "model": "scripted-model",
                   "base_url": base_url, "api_key": "test-key", "max_steps": 20},
        "limits": {"action_timeout_ms": 300},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true,
                       "max_consecutive_errors": 4}
    });
    let run_id = h.submit_json(&json.to_string()).await;
    let status = h.wait(run_id).await;
    let error = status.error.expect("an error");
    assert_eq!(error.code, ErrorCode::Stuck, "{error:?}");
    // Four failures in a row are allowed; the fifth stops the run. No action runs after it
    // (a model call already on its way when the run stopped gets no action).
    let events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let clicks = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Action { action, success: false, .. } if action == "click"))
        .count();
    assert_eq!(clicks, 5, "failed clicks before the stop");
    let calls = failing.seen.lock().unwrap().len();
    assert!(
        (5..=6).contains(&calls),
        "the run went on after the limit: {calls} model calls"
    );
    failing
}
