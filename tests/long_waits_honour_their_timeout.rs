//! A step's own `timeout_ms` is honoured up to the run's deadline, past the run's action and
//! navigation bounds (5 s + 7 s by default): a `wait_for` given 20 s finds an element a page
//! script adds after 15 s, and a `wait_for` given 1.5 s on an element that never comes fails
//! after 1.5 s, saying so.

mod common;

use std::time::{Duration, Instant};

use common::{Page, Site, TestEnv, request};
use pilothouse::{ErrorCode, RunState};

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
    let site = Site::serve(vec![
        ("/late", Page::Html(late_page())),
        (
            "/",
            Page::Html("<title>x</title><p>nothing comes</p>".into()),
        ),
    ])
    .await;
    let env = TestEnv::new();
    let orchestrator = env.start().await;
    let handle = orchestrator.handle();
    let long = request(
        &format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/late"}},
                   {{"action": "wait_for", "selector": "#late", "timeout_ms": 20000}},
                   {{"action": "extract", "selector": "#late", "store_as": "late"}}]}},
                 {QUIET}}}"##
        ),
        &site,
    );
    let short = request(
        &format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/"}},
                   {{"action": "wait_for", "selector": "#never", "timeout_ms": 1500}}]}},
                 {QUIET}}}"##
        ),
        &site,
    );
    let started = Instant::now();
    let long_id = handle.submit(long).await.unwrap();
    let short_id = handle.submit(short).await.unwrap();

    let status = handle.wait(short_id).await.unwrap();
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

    let status = handle.wait(long_id).await.unwrap();
    let long_took = started.elapsed();
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["late"], "arrived");
    assert!(
        long_took >= Duration::from_millis(LATE_MS),
        "the element cannot have been there before {LATE_MS} ms (took {long_took:?})"
    );

    orchestrator.shutdown(Duration::from_secs(5)).await;
    env.assert_no_browsers().await;
}
