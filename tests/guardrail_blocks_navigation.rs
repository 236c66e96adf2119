//! A navigation outside `allowed_domains` is blocked before it happens and fails the run with
//! GUARDRAIL_BLOCKED; the outside server never sees the request. Private networks are blocked by
//! default.

mod common;

use common::{Harness, Page, Site, request};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goto_outside_allowed_domains_is_blocked_and_never_sent() {
    let h = Harness::new(vec![("/", Page::Html("<title>in</title>".into()))])
        .start()
        .await;
    let outside = Site::serve(vec![(
        "/secret",
        Page::Html("<title>secret</title>".into()),
    )])
    .await;
    let (env, handle) = (&h.env, &h.handle);
    // `localhost` reaches the outside server but is not in the allow-list.
    let outside_url = format!("http://localhost:{}/secret", outside.addr.port());
    let json = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "goto", "url": "OUTSIDE"},
           {"action": "screenshot"}]},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##
        .replace("OUTSIDE", &outside_url);
    let run_id = h.submit_json(&json).await;
    let events: Vec<_> = handle.events(run_id, 0).await.unwrap().collect().await;
    let status = handle.status(run_id).await.unwrap().unwrap();
    assert_eq!(status.state, RunState::Failed);
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::GuardrailBlocked);
    assert!(error.message.contains("step 2 (goto)"), "{}", error.message);
    let blocked = events.iter().find_map(|e| match &e.kind {
        EventKind::GuardrailBlocked { check, target, .. } => Some((check.clone(), target.clone())),
        _ => None,
    });
    assert_eq!(blocked, Some(("domain".to_owned(), outside_url.clone())));
    assert!(
        outside.requests().is_empty(),
        "outside server was contacted: {:?}",
        outside.requests()
    );
    assert_eq!(
        env.status_json(run_id)["error"]["code"],
        "GUARDRAIL_BLOCKED"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_is_blocked_unless_the_request_allows_private_networks() {
    let h = Harness::new(vec![("/", Page::Html("<title>in</title>".into()))])
        .start()
        .await;
    let (site, handle) = (&h.site, &h.handle);
    let run_id = h
        .submit_json(
            r##"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "{base}/"}]}}"##,
        )
        .await;
    let status = h.wait(run_id).await;
    assert_eq!(status.error.unwrap().code, ErrorCode::GuardrailBlocked);
    assert!(site.requests().is_empty(), "{:?}", site.requests());

    // A link click that lands outside the allow-list is caught after the navigation and the
    // page is left on about:blank.
    let outside = Site::serve(vec![("/landing", Page::Html("<title>out</title>".into()))]).await;
    let link = format!(
        "<title>in</title><a id='go' href='http://localhost:{}/landing'>go</a>",
        outside.addr.port()
    );
    let site = Site::serve(vec![("/", Page::Html(link))]).await;
    let run_id = handle
        .submit(request(r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "click", "selector": "#go"},
                   {"action": "evaluate", "script": "location.href"}]},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##,
            &site,
        ))
        .await
        .unwrap();
    let status = h.wait(run_id).await;
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::GuardrailBlocked);
    assert!(
        error.message.contains("step 2 (click)"),
        "{}",
        error.message
    );
    h.finish().await;
}
