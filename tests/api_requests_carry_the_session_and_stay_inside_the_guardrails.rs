//! `api_request` against a site with a cookie session and a JSON API that requires it: the
//! call goes from the orchestrator with the browser's HttpOnly cookie (read through CDP) and a
//! header from the request's credentials, and returns the JSON path asked for — from a script
//! and from a playbook in the reference's spelling (`request:`, `response.json_path`, the
//! result a `{parameter}` of later steps). Redirects to an outside host and to a loopback name
//! the run does not allow are refused before anything reaches them; a URL on a private address
//! is refused when the run does not allow private networks; a slow API is a clear timeout. The
//! cookie and the token appear in no event, status or file of the run, in any encoding.

mod common;

use common::api_site::{ApiSite, SESSION, TOKEN};
use common::secrets::SecretScan;
use common::{Harness, Page, Site};
use futures::StreamExt;
use pilothouse::{ErrorCode, EventKind, RunEvent, RunState, RunStatus};
use serde_json::{Value, json};

/// Guardrails that let a run reach the API on 127.0.0.1 and nothing else.
fn loopback_only() -> Value {
    json!({"allowed_domains": ["127.0.0.1"], "allow_private_networks": true})
}

/// A script request: sign in, then `steps`.
fn script(api: &ApiSite, steps: Value, guardrails: Value) -> String {
    let mut all = vec![json!({"action": "goto", "url": format!("{}/login", api.base)})];
    all.extend(steps.as_array().unwrap().iter().cloned());
    json!({
        "driver": {"type": "script", "steps": all},
        "credentials": {"api_token": TOKEN},
        "guardrails": guardrails,
    })
    .to_string()
}

/// The orders call, as a script writes it.
fn orders_call(api: &ApiSite, response: Value, store_as: &str) -> Value {
    json!({"action": "api_request", "store_as": store_as, "request": {
        "url": format!("{}/api/orders", api.base),
        "query": {"status": "open", "page": 2},
        "headers": {"X-Token": {"credential_ref": "api_token"}},
        "cookies": true,
        "response": response,
    }})
}

async fn run(h: &Harness, json: &str) -> (RunStatus, Vec<RunEvent>) {
    let run_id = h.handle.submit(h.request(json)).await.unwrap();
    let events = h.handle.events(run_id, 0).await.unwrap().collect().await;
    (h.handle.status(run_id).await.unwrap().unwrap(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_step_returns_the_json_path_with_the_browsers_cookie() {
    let logs = common::logs::capture();
    let api = ApiSite::serve(String::new(), String::new()).await;
    let h = Harness::new(vec![]).start().await;
    let steps = json!([
        orders_call(
            &api,
            json!({"mode": "json_path", "path": "data.items[0].id"}),
            "order_id"
        ),
        orders_call(&api, json!({"mode": "json"}), "whole"),
    ]);
    let (status, mut events) = run(&h, &script(&api, steps, loopback_only())).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    let data = serde_json::to_value(&status.data).unwrap();
    assert_eq!(data["order_id"], json!("A-17"), "{data:#?}");
    assert_eq!(data["whole"]["data"]["items"][1]["total"], json!(7));
    assert_eq!(data["whole"]["query"]["status"], json!("open"));
    // The API echoed the token and the cookie: both come back scrubbed.
    assert_eq!(
        data["whole"]["echo"]["token"],
        json!("[credential:api_token]")
    );
    assert_eq!(
        data["whole"]["echo"]["sid"],
        json!("[credential:cookie sid]")
    );
    let calls: Vec<_> = api
        .seen()
        .into_iter()
        .filter(|s| s.path == "/api/orders")
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        assert_eq!(
            call.cookie.as_deref(),
            Some(format!("sid={SESSION}").as_str())
        );
        assert_eq!(call.token.as_deref(), Some(TOKEN));
        assert_eq!(call.query.as_deref(), Some("page=2&status=open"));
    }
    let summary = action_inputs(&events);
    assert!(
        summary
            .iter()
            .any(|s| s.contains("GET") && s.contains("headers: X-Token")),
        "{summary:?}"
    );
    let playbook_events = the_reference_spelling_runs_too(&h, &api).await;
    events.extend(playbook_events);
    let env = h.finish().await;
    assert_no_trace(&env, &events, &logs.text());
}

/// Neither the cookie nor the token is in the runs' files, recordings, events or log lines.
fn assert_no_trace(env: &common::TestEnv, events: &[RunEvent], lines: &str) {
    for secret in [SESSION, TOKEN] {
        let scan = SecretScan::new(secret);
        let mut found = scan.scan_dir(&env.runs_dir());
        found.extend(scan.scan_dir(&env.recordings_dir()));
        for event in events {
            let text = serde_json::to_string(event).unwrap();
            found.extend(scan.scan_text(&format!("event {}", event.seq), &text));
        }
        found.extend(scan.scan_text("log lines", lines));
        assert!(found.is_empty(), "{secret} leaked:\n{found:#?}");
    }
}

/// The reference's spelling: the call under `request:`, `response.json_path`, only the
/// cookies named; the result becomes `{order_id}` for the next step.
async fn the_reference_spelling_runs_too(h: &Harness, api: &ApiSite) -> Vec<RunEvent> {
    let yaml = r#"
id: order_api
name: Order API
description: Read the first open order through the site's API.
auth_required: false
parameters:
  - name: base_url
    type: string
steps:
  - action: goto
    params: {url: "{base_url}/login"}
    on_failure: abort
  - action: api_request
    description: Fetch the open orders
    request:
      method: GET
      url: "{base_url}/api/orders"
      query: {status: open}
      headers: {X-Token: {credential_ref: api_token}}
      cookies: [sid]
      response: {mode: json_path, json_path: data.items.0.id}
    store_as: order_id
    on_failure: abort
  - action: goto
    params: {url: "{base_url}/orders/{order_id}"}
    on_failure: abort
"#;
    let request = json!({
        "driver": {"type": "playbook", "playbook": yaml, "params": {"base_url": api.base}},
        "credentials": {"api_token": TOKEN},
        "guardrails": loopback_only(),
    });
    let (status, events) = run(h, &request.to_string()).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["order_id"], json!("A-17"));
    assert!(
        api.paths().contains(&"/orders/A-17".to_owned()),
        "{:?}",
        api.paths()
    );
    events
}

fn action_inputs(events: &[RunEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action { input, .. } => Some(input.clone()),
            _ => None,
        })
        .collect()
}

/// The run failed with GUARDRAIL_BLOCKED by `check`, naming `target`.
fn assert_blocked(status: &RunStatus, events: &[RunEvent], check: &str, target: &str) {
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let error = status.error.as_ref().unwrap();
    assert_eq!(error.code, ErrorCode::GuardrailBlocked, "{error:?}");
    let blocked: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::GuardrailBlocked { check, target, .. } => {
                Some((check.clone(), target.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(blocked, vec![(check.to_owned(), target.to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_and_private_addresses_outside_the_run_are_refused_unsent() {
    let outside = Site::serve_at("127.0.0.2", vec![("/steal", Page::Html("x".into()))]).await;
    let local = Site::serve(vec![("/steal", Page::Html("x".into()))]).await;
    let out_url = outside.url("/steal");
    let local_url = format!("http://localhost:{}/steal", local.addr.port());
    let api = ApiSite::serve(out_url.clone(), local_url.clone()).await;
    let h = Harness::new(vec![]).start().await;
    let call = |path: &str| {
        json!([{"action": "api_request", "request": {
            "url": format!("{}{path}", api.base), "cookies": true,
            "headers": {"X-Token": {"credential_ref": "api_token"}}}}])
    };
    // An outside host, then a loopback name the run does not allow (a 307 keeps the method).
    for (path, target) in [("/api/out", &out_url), ("/api/local", &local_url)] {
        let (status, events) = run(&h, &script(&api, call(path), loopback_only())).await;
        assert_blocked(&status, &events, "domain", target);
        let message = &status.error.as_ref().unwrap().message;
        assert!(message.contains("step 2 (api_request)"), "{message}");
    }
    assert!(outside.requests().is_empty(), "{:?}", outside.requests());
    assert!(local.requests().is_empty(), "{:?}", local.requests());
    // A run that does not allow private networks: the API on 127.0.0.1 is refused unsent.
    let before = api.paths().len();
    let request = json!({
        "driver": {"type": "script", "steps": [{"action": "api_request",
            "request": {"url": format!("{}/api/orders?k=v", api.base)}}]},
        "guardrails": {"allowed_domains": ["127.0.0.1"]},
    });
    let (status, events) = run(&h, &request.to_string()).await;
    let bare = format!("{}/api/orders", api.base);
    assert_blocked(&status, &events, "private_network", &bare);
    assert_eq!(api.paths().len(), before, "{:?}", api.paths());
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_api_is_a_clear_timeout_and_a_bad_path_a_field_error() {
    let api = ApiSite::serve(String::new(), String::new()).await;
    let h = Harness::new(vec![]).start().await;
    let slow = json!([{"action": "api_request", "request": {
        "url": format!("{}/api/slow", api.base), "timeout_ms": 300}}]);
    let (status, events) = run(&h, &script(&api, slow, loopback_only())).await;
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let error = status.error.unwrap();
    assert_eq!(error.code, ErrorCode::ActionFailed);
    assert!(
        error
            .message
            .contains("api_request: no response within 300 ms (request.timeout_ms)"),
        "{}",
        error.message
    );
    // The step ended at its bound, long before the API would have answered (5 s).
    let took = events.iter().find_map(|e| match &e.kind {
        EventKind::Action {
            action,
            duration_ms,
            ..
        } if action == "api_request" => Some(*duration_ms),
        _ => None,
    });
    assert!(
        took.is_some_and(|ms| (300..2_500).contains(&ms)),
        "{took:?}"
    );
    // Refused at submit, naming the field: a json_path without a path, a bad path.
    for (response, needle) in [
        (json!({"mode": "json_path"}), "needs a path"),
        (json!({"mode": "json_path", "path": "a..b"}), "empty part"),
    ] {
        let steps = json!([{"action": "api_request",
            "request": {"url": format!("{}/api/orders", api.base), "response": response}}]);
        let refused = h
            .handle
            .submit(h.request(&script(&api, steps, loopback_only())))
            .await;
        let text = format!("{:?}", refused.unwrap_err());
        assert!(
            text.contains("driver.steps[1].request.response.path"),
            "{text}"
        );
        assert!(text.contains(needle), "{text}");
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_host_is_reached_at_its_checked_address_and_a_refusal_is_clear() {
    let api = ApiSite::serve(String::new(), String::new()).await;
    let port = api.base.rsplit(':').next().unwrap().to_owned();
    let h = Harness::new(vec![]).start().await;
    // `localhost` is resolved by the guard and connected to at the address it checked; the
    // reference's cookie map sends the given value.
    let named = json!({
        "driver": {"type": "script", "steps": [{"action": "api_request", "store_as": "id",
            "request": {"url": format!("http://localhost:{port}/api/orders"),
                "cookies": {"sid": SESSION},
                "headers": {"X-Token": {"credential_ref": "api_token"}},
                "response": {"mode": "json_path", "path": "data.items[1].id"}}}]},
        "credentials": {"api_token": TOKEN},
        "guardrails": {"allowed_domains": ["localhost"], "allow_private_networks": true},
    });
    let (status, _) = run(&h, &named.to_string()).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(status.data["id"], json!("B-3"));
    // Without the browser's cookie the API refuses: a clear failure quoting its answer.
    let steps = json!([{"action": "api_request", "request": {
        "url": format!("{}/api/orders?q=1", api.base),
        "headers": {"X-Token": {"credential_ref": "api_token"}}}}]);
    let (status, _) = run(&h, &script(&api, steps, loopback_only())).await;
    assert_eq!(status.state, RunState::Failed, "{status:#?}");
    let message = status.error.unwrap().message;
    let expected = format!("HTTP 401 Unauthorized from {}/api/orders: ", api.base);
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains("sign in first"), "{message}");
    assert!(message.contains("[credential:api_token]"), "{message}");
    h.finish().await;
}
