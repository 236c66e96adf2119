//! A step's own `timeout_ms` is honoured up to the run's deadline, past the run's action and
//! navigation bounds (5 s + 7 s by default): a `wait_for` given 20 s finds an element a page
//! script adds after 15 s, and a `wait_for` given 1.5 s on an element that never comes fails
//! after 1.5 s, saying so.

mod common;

use std::time::{Duration, Instant};

use common::harness::SHUTDOWN_GRACE;
use common::{Harness, Page};
use pilothouse::{ErrorCode, RunId, RunState};

/// When the page script adds `#late`, after the page loaded.
const LATE_MS: u64 = 15_000;

fn late_page() -> String {
    format!(
        r#"<!doctype html><title>Late</title><p>waiting</p>
<script>setTimeout(() => {{
  const el = document.createElement('p'); el.id = 'late'; el.textContent = 'arrived';
  document.body.append(el);
}}, {LATE_MS});</script>"#
    )
}

const QUIET: &str = r#""recording": {"screenshots": false, "final_dom": false, "report": false, "upload": false},
    "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_gets_its_own_timeout_long_or_short() {
    let h = Harness::new(vec![
        ("/late", Page::Html(late_page())),
        (
            "/",
            Page::Html("<title>x</title><p>nothing comes</p>".into()),
        ),
    ])
    .start()
    .await;
    let long = h.request(&format!(
        r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/late"}},
                   {{"action": "wait_for", "selector": "#late", "timeout_ms": 20000}},
                   {{"action": "extract", "selector": "#late", "store_as": "late"}}]}},
                 {QUIET}}}"##
    ));
    let short = h.request(&format!(
        r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/"}},
                   {{"action": "wait_for", "selector": "#never", "timeout_ms": 1500}}]}},
                 {QUIET}}}"##
    ));
    let started = Instant::now();
    let long_id = h.handle.submit(long).await.unwrap();
    let short_id = h.handle.submit(short).await.unwrap();

    assert_the_short_wait_failed_at_its_timeout(&h, short_id, started).await;
    let status = h.wait(long_id).await;
    let long_took = started.elapsed();
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["late"], "arrived");
    assert!(
        long_took >= Duration::from_millis(LATE_MS),
        "the element cannot have been there before {LATE_MS} ms (took {long_took:?})"
    );

    h.finish().await;
}

/// The short run failed at its own 1500 ms, long before the long run's element arrived.
async fn assert_the_short_wait_failed_at_its_timeout(h: &Harness, run_id: RunId, started: Instant) {
    let status = h.wait(run_id).await;
    let short_took = started.elapsed();
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::ActionFailed);
    assert!(
        error.message.starts_with("step 2 (wait_for)")
            && error.message.contains("timed out after 1500 ms"),
        "{}",
        error.message
    );
    assert!(
        short_took < Duration::from_millis(LATE_MS),
        "a 1500 ms wait took {short_took:?}"
    );
}

/// A model's `wait_for` is not checked at submit; the router holds it to the same ceiling,
/// and the model reads why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_wait_past_the_ceiling_is_refused_with_the_ceiling_named() {
    use common::model::{Model, Planned, browser, serve_model};
    use serde_json::json;

    let model = Model::new(
        vec![
            Planned::Calls(vec![browser(
                json!({"action": "wait_for", "selector": "h1", "timeout_ms": 700000}),
            )]),
            Planned::Calls(vec![("done", json!({"answer": "gave up"}).to_string())]),
        ],
        "no-secret-here",
        Vec::new(),
    );
    let base_url = serve_model(model.clone()).await;
    let h = Harness::new(vec![(
        "/",
        Page::Html("<title>x</title><h1>here</h1>".into()),
    )])
    .start()
    .await;
    let json = json!({
        "start_url": h.url("/"),
        "driver": {"type": "agent", "directive": "Wait for the heading.", "model": "scripted-model",
                   "base_url": base_url, "api_key": "test-key", "max_steps": 3},
        "recording": {"screenshots": false, "final_dom": false, "report": false, "upload": false},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let started = Instant::now();
    let run_id = h.submit_json(&json.to_string()).await;
    let status = h.wait(run_id).await;
    let Harness {
        env, orchestrator, ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let problems = model.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "model server saw: {problems:#?}");
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let last_result = seen[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned();
    assert!(
        last_result.contains(
            "wait_for.timeout_ms: 700000 exceeds the server's ceiling \
             [limits] max_action_timeout_ms = 600000"
        ),
        "{last_result}"
    );
    env.assert_no_browsers().await;
}
