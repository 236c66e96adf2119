//! Run-level guardrails: read-only task kinds cannot type, a run cannot land on more distinct
//! pages than `max_urls_visited`, and stuck detection (when on) ends a looping run with STUCK
//! after hinting and warning.

mod common;

use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, RunState, Severity};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_and_stop_runaway_runs() {
    let page = |n: u32| {
        Page::Html(format!(
            "<title>p{n}</title><div style='height:5000px'>page {n}</div>"
        ))
    };
    let h = Harness::new(vec![("/1", page(1)), ("/2", page(2)), ("/3", page(3))])
        .start()
        .await;
    a_read_only_run_may_not_type(&h).await;
    a_third_distinct_page_is_refused(&h).await;
    a_looping_run_is_hinted_warned_and_stopped(&h).await;
    h.finish().await;
}

/// A read-only run may not type: refused at submit, naming the step.
async fn a_read_only_run_may_not_type(h: &Harness) {
    let read_only = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/1"},
           {"action": "type", "selector": "#q", "text": "x"}]},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true, "task_kind": "read"}}"##;
    let err = h.handle.submit(h.request(read_only)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("driver.steps[1].action: `type` is not allowed for read tasks"),
        "{err}"
    );
}

/// Two distinct pages at most: the third goto is refused before it navigates.
async fn a_third_distinct_page_is_refused(h: &Harness) {
    let json = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/1"},
           {"action": "goto", "url": "{base}/2"},
           {"action": "goto", "url": "{base}/1#again"},
           {"action": "goto", "url": "{base}/3"}]},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true, "max_urls_visited": 2}}"##;
    let (_, status) = h.run_json(json).await;
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::GuardrailBlocked);
    assert!(
        error.message.starts_with("step 4 (goto)")
            && error.message.contains("Max URL limit reached (2)"),
        "{}",
        error.message
    );
    assert!(
        !h.site.requests().contains(&"/3".to_owned()),
        "{:?}",
        h.site.requests()
    );
}

/// The same scroll over and over: hint at 3, warning at 5, stop at 7.
async fn a_looping_run_is_hinted_warned_and_stopped(h: &Harness) {
    let steps: Vec<String> = std::iter::once(r#"{"action": "goto", "url": "{base}/1"}"#.to_owned())
        .chain((0..9).map(|_| r#"{"action": "scroll", "direction": "down"}"#.to_owned()))
        .collect();
    let json = format!(
        r#"{{"driver": {{"type": "script", "steps": [{}]}},
            "guardrails": {{"allowed_domains": ["127.0.0.1"], "allow_private_networks": true,
                            "stuck": {{"enabled": true}}}}}}"#,
        steps.join(",")
    );
    let run_id = h.submit_json(&json).await;
    let events: Vec<_> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let levels: Vec<Severity> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Stuck {
                severity, pattern, ..
            } if pattern == "repetition" => Some(*severity),
            _ => None,
        })
        .collect();
    assert_eq!(
        levels,
        vec![
            Severity::Hint,
            Severity::Hint,
            Severity::Warning,
            Severity::Warning,
            Severity::Stop
        ]
    );
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    assert_eq!(status.state, RunState::Failed);
    assert_eq!(status.error.unwrap().code, ErrorCode::Stuck);
    assert_eq!(
        status.action_count, 8,
        "the run stopped at the seventh identical scroll"
    );
}
