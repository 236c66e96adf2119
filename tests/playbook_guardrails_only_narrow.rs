//! A playbook's own guardrails can only narrow the request's: a request that allows only
//! 127.0.0.1 for reading, running an inline playbook that allows 127.0.0.2 and interaction,
//! reaches 127.0.0.2 neither by `goto` nor by an `evaluate` fetch — the outside server's own log
//! stays empty — and every run states its effective guardrails in a `log` event at its start.
//! The operator's `[guardrails]` floors narrow every request the same way.

mod common;

use common::{Harness, Page, Site};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunState, RunStatus};

/// A playbook that tries to widen the request: 127.0.0.2 and `interact`.
fn playbook(steps: &str) -> String {
    format!(
        r#"
id: widen
name: Widen
start_url: "{{base}}/"
guardrails:
  allowed_domains: ["127.0.0.1", "127.0.0.2"]
  allow_private_networks: true
  task_kind: interact
steps:
{steps}
"#
    )
}

fn run_request(yaml: &str, task_kind: &str) -> String {
    serde_json::json!({
        "driver": {"type": "playbook", "playbook": yaml},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true,
                       "task_kind": task_kind},
        "limits": {"action_timeout_ms": 5000}
    })
    .to_string()
}

async fn finish(
    handle: &pilothouse::OrchestratorHandle,
    run_id: pilothouse::RunId,
) -> (RunStatus, Vec<RunEvent>) {
    let events: Vec<RunEvent> = handle.events(run_id, 0).await.unwrap().collect().await;
    let EventKind::Finished { status } = &events.last().unwrap().kind else {
        panic!("no terminal event: {events:#?}");
    };
    (*status.clone(), events)
}

fn logs(events: &[RunEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

fn refusals(events: &[RunEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::GuardrailBlocked { check, target, .. } => {
                Some((check.as_str(), target.as_str()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_cannot_widen_the_requests_guardrails() {
    let outside = Site::serve_at(
        "127.0.0.2",
        vec![
            ("/", Page::Html("<title>outside</title>".into())),
            ("/api", Page::Html("secret".into())),
        ],
    )
    .await;
    let out = format!("http://{}", outside.addr);
    let h = Harness::new(vec![("/", Page::Html("<title>inside</title>".into()))])
        .start()
        .await;
    let (site, handle) = (&h.site, &h.handle);

    let goto = playbook(&format!(
        "  - action: goto\n    url: \"{out}/\"\n    on_failure: abort\n"
    ));
    let fetch = playbook(&format!(
        "  - action: evaluate\n    script: \"fetch('{out}/api').then(r => r.status, () => 'refused')\"\n    \
         store_as: fetched\n    on_failure: abort\n"
    ));
    // read (the request's kind wins): the goto is out of scope, the evaluate not allowed at all;
    // interact: the evaluate runs, and its fetch is refused by the proxy.
    let cases = [
        ("goto, read", run_request(&goto, "read")),
        ("fetch, read", run_request(&fetch, "read")),
        ("fetch, interact", run_request(&fetch, "interact")),
    ];
    let mut runs = Vec::new();
    for (name, json) in &cases {
        runs.push((*name, h.submit_json(json).await));
    }
    for (name, run_id) in runs {
        let (status, events) = finish(handle, run_id).await;
        check_case(name, &status, &events, &out);
    }
    assert!(
        outside.requests().is_empty(),
        "the outside host was reached: {:?}",
        outside.requests()
    );
    assert!(
        site.requests().iter().any(|p| p == "/"),
        "{:?}",
        site.requests()
    );
    h.finish().await;
}

/// What the case's run ended with: the effective guardrails stated, and the refusal that kept
/// it inside them.
fn check_case(name: &str, status: &RunStatus, events: &[RunEvent], out: &str) {
    let kind = if name.ends_with("read") {
        "read"
    } else {
        "interact"
    };
    let stated = format!(
        "effective guardrails: allowed_domains [127.0.0.1]; blocked_domains none; \
         private networks allowed; task_kind {kind};"
    );
    assert!(
        logs(events).iter().any(|l| l.starts_with(&stated)),
        "{name}: no `{stated}` in {:?}",
        logs(events)
    );
    let refused = refusals(events);
    match name {
        "goto, read" => {
            assert_eq!(status.state, RunState::Failed, "{name}: {status:#?}");
            assert!(
                refused.contains(&("domain", &format!("{out}/"))),
                "{name}: {refused:?}"
            );
        }
        "fetch, read" => {
            assert_eq!(status.state, RunState::Failed, "{name}: {status:#?}");
            assert!(
                refused.contains(&("action", "evaluate")),
                "{name}: {refused:?}"
            );
            assert!(!status.data.contains_key("fetched"), "{name}: {status:#?}");
        }
        _ => {
            assert_eq!(status.state, RunState::Completed, "{name}: {status:#?}");
            // The proxy answers the refused fetch with 403 (which CORS may turn into a
            // network error); either way the outside host never hears it.
            let fetched = &status.data["fetched"];
            assert!(
                *fetched == 403 || *fetched == "refused",
                "{name}: {status:#?}"
            );
            assert!(
                refused
                    .iter()
                    .any(|(c, t)| *c == "domain" && t.starts_with(&format!("{out}/api"))),
                "{name}: {refused:?}"
            );
        }
    }
}

/// The operator's `[guardrails]` floors narrow every request the same way: a server confined to
/// 127.0.0.1 keeps a request that names no hosts (any host) off 127.0.0.2, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_floor_narrows_every_request() {
    let outside = Site::serve_at(
        "127.0.0.2",
        vec![("/", Page::Html("<title>x</title>".into()))],
    )
    .await;
    let h = Harness::new(vec![("/", Page::Html("<title>inside</title>".into()))])
        .config(|c| c.guardrails.allowed_domains = vec!["127.0.0.1".into()])
        .start()
        .await;
    let (site, handle) = (&h.site, &h.handle);
    let json = format!(
        r#"{{"driver": {{"type": "script", "steps": [
              {{"action": "goto", "url": "{{base}}/"}},
              {{"action": "goto", "url": "http://{}/"}}]}},
            "guardrails": {{"allow_private_networks": true}}}}"#,
        outside.addr
    );
    let run_id = h.submit_json(&json).await;
    let (status, events) = finish(handle, run_id).await;
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    assert!(
        refusals(&events).contains(&("domain", &format!("http://{}/", outside.addr))),
        "{:?}",
        refusals(&events)
    );
    assert!(
        logs(&events)
            .iter()
            .any(|l| l.starts_with("effective guardrails: allowed_domains [127.0.0.1];")),
        "{:?}",
        logs(&events)
    );
    assert_eq!(site.requests().iter().filter(|p| *p == "/").count(), 1);
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    h.finish().await;
}
