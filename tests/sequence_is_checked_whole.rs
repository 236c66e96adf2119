//! A `sequence` is checked whole before its first step runs: when a later step's `goto` is out
//! of scope, or a later click names a destructive control, no step runs at all — the page's log
//! shows the first step's click never happened — while the same sequence with an in-scope
//! destination runs every step.

mod common;

use common::{Harness, Page, Site, request};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState, RunStatus};

fn pages() -> Vec<(&'static str, Page)> {
    vec![
        (
            "/",
            Page::Html(
                "<title>home</title><button id='hit' onclick=\"location.href='/hit'\">Go</button>"
                    .into(),
            ),
        ),
        ("/hit", Page::Html("<title>hit</title>".into())),
        ("/next", Page::Html("<title>next</title>".into())),
    ]
}

async fn run(
    handle: &pilothouse::OrchestratorHandle,
    second: &str,
    site: &Site,
) -> (RunStatus, Vec<RunEvent>) {
    let json = format!(
        r##"{{"driver": {{"type": "script", "steps": [
                {{"action": "goto", "url": "{{base}}/"}},
                {{"action": "sequence", "steps": [
                    {{"action": "click", "selector": "#hit"}}, {second}]}}]}},
            "guardrails": {{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}},
            "limits": {{"action_timeout_ms": 5000}}}}"##
    );
    let run_id = handle.submit(request(&json, site)).await.unwrap();
    let events: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    let status = handle.status(run_id).await.unwrap().unwrap();
    (status, events)
}

fn hits(site: &Site) -> usize {
    site.requests().iter().filter(|p| *p == "/hit").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_with_a_forbidden_later_step_runs_no_step() {
    let outside = Site::serve_at("127.0.0.2", vec![]).await;
    let out = format!("http://{}/x", outside.addr);
    let h = Harness::new(pages()).start().await;
    let (site, handle) = (&h.site, &h.handle);

    // Out of scope later on: refused whole, naming the step; the click never ran.
    let (status, events) = run(
        handle,
        &format!(r#"{{"action": "goto", "url": "{out}"}}"#),
        site,
    )
    .await;
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let message = &status.error.as_ref().unwrap().message;
    assert!(
        message.contains("step 2 (goto): Guardrail blocked:")
            && message.ends_with("the sequence was refused before its first step ran"),
        "{message}"
    );
    assert!(
        events.iter().any(|e| matches!(&e.kind,
            EventKind::GuardrailBlocked { check, target, .. } if check == "domain" && *target == out)),
        "{events:#?}"
    );
    assert_eq!(hits(site), 0, "{:?}", site.requests());

    // A destructive click later on: refused whole as well.
    let (status, _) = run(
        handle,
        r##"{"action": "click", "selector": "#delete-account"}"##,
        site,
    )
    .await;
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    assert!(
        status
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("step 2 (click)"),
        "{status:#?}"
    );
    assert_eq!(hits(site), 0, "{:?}", site.requests());

    // The same sequence in scope runs both steps.
    let (status, _) = run(handle, r#"{"action": "goto", "url": "{base}/next"}"#, site).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(hits(site), 1, "{:?}", site.requests());
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    h.finish().await;
}
