//! `pilothouse serve` route by route, as a client sees it: a real server process on a free
//! loopback port, a real HTTP client, runs in real headless Chromium on pages this test serves.
//! Recordings are served byte for byte and never outside the recording; a full queue says when
//! to retry; the client commands show the same runs. (Bad input is in `server_bad_input.rs`,
//! auth in `server_auth.rs`, streams in `server_sse.rs`.)

mod common;

use std::time::Duration;

use common::server::{LOOPBACK, Server, error_code, json_with_status};
use common::{FORM_PAGE, Page, Site, TestEnv, eventually};
use pilothouse::RunId;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A script run that fills the form and keeps the greeting, with labels to filter on.
fn form_run(site: &Site, team: &str) -> String {
    format!(
        r##"{{"driver": {{"type": "script", "steps": [
              {{"action": "goto", "url": "{}"}},
              {{"action": "type", "selector": "#name", "text": "Ada"}},
              {{"action": "click", "selector": "#submit"}},
              {{"action": "wait_for", "selector": "#out", "timeout_ms": 5000}},
              {{"action": "extract", "selector": "#out", "store_as": "greeting"}}]}},
            "labels": {{"team": "{team}"}}, {LOOPBACK}}}"##,
        site.url("/form")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_the_openapi_document() {
    let env = TestEnv::new();
    let server = Server::start(&env, "", "").await;
    assert_eq!(server.get_json("/health", 200).await["status"], "ok");
    let ready = server.get_json("/ready", 200).await;
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["capacity"], 4);
    assert_eq!(ready["queue_capacity"], 64);
    assert_eq!(ready["running"], 0);
    // CORS is off without cors_origins: no browser page of another origin may read answers.
    let cross = server
        .http
        .get(server.url("/health"))
        .header("origin", "http://127.0.0.1:1")
        .send()
        .await
        .unwrap();
    assert!(cross.headers().get("access-control-allow-origin").is_none());
    every_documented_route_answers(&server).await;

    // /metrics is the Prometheus text format with the engine's pilothouse_* metrics, once a
    // run has emitted them.
    let run_id = server
        .submit(r#"{"driver": {"type": "script", "steps": []}, "start_url": "http://127.0.0.1:9/", "guardrails": {"allow_private_networks": true}}"#)
        .await;
    server.wait_terminal(run_id).await;
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for name in ["pilothouse_runs_total", "pilothouse_browser_launches_total"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing from /metrics:\n{text}"
        );
    }
    server.assert_no_run_browsers(&env).await;
}

/// Every documented route answers (never the router's "no route" 404).
async fn every_documented_route_answers(server: &Server) {
    let doc = server.get_json("/openapi.json", 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let id = pilothouse::RunId::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if path.ends_with("events") || path.ends_with("stream") {
                continue; // streams of unknown runs are covered above; /events never ends
            }
            let concrete = path
                .replace("{id}", &id.to_string())
                .replace("{path}", "manifest.json");
            let response = match method.as_str() {
                "get" => server.get(&concrete).await,
                "post" => server.post(&concrete, "{}").await,
                other => panic!("unexpected method {other}"),
            };
            let code = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert!(
                code != 405 && !text.contains("no route"),
                "{method} {path} is documented but not served: {code} {text}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} routes checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_complete_list_page_and_serve_their_recordings() {
    let site = Site::serve(vec![("/form", Page::Html(FORM_PAGE.into()))]).await;
    let env = TestEnv::new();
    let server = Server::start(&env, "", "").await;
    let (first, second) = two_runs_complete(&server, &site, &env).await;
    the_list_is_newest_first_filtered_and_paged(&server, first, second).await;
    every_recording_file_is_served_as_recorded(&server, first).await;
    nothing_outside_the_recording_is_served(&server, &env, first).await;
    the_client_commands_show_the_same_runs(&server, first, second).await;
    the_client_names_unknown_and_malformed_ids(&server).await;
    server.assert_no_run_browsers(&env).await;
}

/// Two form runs (teams a and b) are accepted with their URLs and complete with the greeting;
/// their ids, oldest first.
async fn two_runs_complete(server: &Server, site: &Site, env: &TestEnv) -> (RunId, RunId) {
    let submitted = json_with_status(server.post("/runs", form_run(site, "a")).await, 201).await;
    let first: RunId = submitted["run_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(submitted["status_url"], format!("/runs/{first}"));
    assert_eq!(submitted["events_url"], format!("/runs/{first}/events"));
    let second = server.submit(&form_run(site, "b")).await;
    let status = server.wait_terminal(first).await;
    assert_eq!(status["state"], "completed", "{status}");
    assert_eq!(status["data"]["greeting"], "Hello, Ada! 50");
    assert_eq!(server.wait_terminal(second).await["state"], "completed");
    assert_eq!(env.status_json(first)["state"], "completed");
    (first, second)
}

/// Newest first, filters, cursor paging.
async fn the_list_is_newest_first_filtered_and_paged(server: &Server, first: RunId, second: RunId) {
    let ids = |page: &Value| -> Vec<String> {
        page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = server.get_json("/runs", 200).await;
    assert_eq!(ids(&all), vec![second.to_string(), first.to_string()]);
    assert_eq!(all["next_cursor"], Value::Null);
    let page1 = server.get_json("/runs?limit=1", 200).await;
    assert_eq!(ids(&page1), vec![second.to_string()]);
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let page2 = server
        .get_json(&format!("/runs?limit=1&cursor={cursor}"), 200)
        .await;
    assert_eq!(ids(&page2), vec![first.to_string()]);
    assert_eq!(page2["next_cursor"], Value::Null);
    let team_a = server
        .get_json("/runs?label=team:a&state=completed", 200)
        .await;
    assert_eq!(ids(&team_a), vec![first.to_string()]);
    let none = server.get_json("/runs?state=running", 200).await;
    assert_eq!(ids(&none), Vec::<String>::new());
}

/// Every recording file is served byte-identical to the manifest's sha256, with its type.
async fn every_recording_file_is_served_as_recorded(server: &Server, run: RunId) {
    let manifest = server
        .get_json(&format!("/runs/{run}/recording/manifest.json"), 200)
        .await;
    let artifacts = manifest["artifacts"].as_array().unwrap();
    assert!(artifacts.len() >= 3, "{manifest}");
    for artifact in artifacts {
        let path = artifact["path"].as_str().unwrap();
        let response = server.get(&format!("/runs/{run}/recording/{path}")).await;
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        if path.ends_with(".jpg") {
            assert_eq!(content_type, "image/jpeg");
        }
        if path.ends_with(".html") {
            assert!(content_type.starts_with("text/html"), "{content_type}");
        }
        let bytes = response.bytes().await.unwrap();
        let digest = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(digest, artifact["sha256"].as_str().unwrap(), "{path}");
    }
}

/// Nothing outside the recording: `..` (raw and encoded), absolute paths, backslashes and a
/// symlink planted in the recording that points out of it; a missing file is a JSON 404.
async fn nothing_outside_the_recording_is_served(server: &Server, env: &TestEnv, run: RunId) {
    let recording = env.runs_dir().join(run.to_string()).join("recording");
    std::os::unix::fs::symlink(
        env.runs_dir().join(run.to_string()).join("status.json"),
        recording.join("escape.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", recording.join("etc")).unwrap();
    for path in [
        "../status.json",
        "screenshots/../../status.json",
        "%2e%2e%2fstatus.json",
        "%2E%2E/status.json",
        "..%2f..%2f..%2fetc%2fpasswd",
        "%2fetc%2fpasswd",
        "..%5cstatus.json",
        "escape.json",
        "etc/passwd",
    ] {
        let (code, body) = server
            .raw_get(&format!("/runs/{run}/recording/{path}"))
            .await;
        assert_eq!(code, 400, "{path}: {body}");
        assert!(body.contains("INVALID_PATH"), "{path}: {body}");
        assert!(!body.contains("root:"), "{path} leaked a file");
    }
    let body = json_with_status(
        server
            .get(&format!("/runs/{run}/recording/nothing.jpg"))
            .await,
        404,
    )
    .await;
    assert_eq!(error_code(&body), "RECORDING_NOT_FOUND");
}

/// `status`, `runs`, `events` and `cancel` show the same runs the API does.
async fn the_client_commands_show_the_same_runs(server: &Server, first: RunId, second: RunId) {
    let (code, out, err) = server.client(&["status", &first.to_string()], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("state     completed"), "{out}");
    assert!(out.contains(r#"greeting = "Hello, Ada! 50""#), "{out}");
    let (code, out, err) = server.client(&["runs", "--state", "completed"], None).await;
    assert_eq!(code, 0, "{err}");
    let listed: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(listed, vec![second.to_string(), first.to_string()], "{out}");
    let (code, out, err) = server.client(&["events", &first.to_string()], None).await;
    assert_eq!(code, 0, "{err}");
    for (step, action) in ["goto", "type", "click", "wait_for", "extract"]
        .iter()
        .enumerate()
    {
        let prefix = format!("{:>3} {action} ", step + 1);
        assert!(
            out.lines()
                .any(|l| l.starts_with(&prefix) && l.contains("  ok  ")),
            "{out}"
        );
    }
    assert!(out.contains("state     completed"), "{out}");
    let (code, out, _) = server
        .client(&["events", &first.to_string(), "--after", "100"], None)
        .await;
    assert_eq!((code, out.as_str()), (0, ""), "events after the last one");
    let (code, out, err) = server.client(&["cancel", &first.to_string()], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("already_finished"), "{out}");
}

/// An unknown run is "not found" (exit 1); a malformed id is "not a run id" (exit 2).
async fn the_client_names_unknown_and_malformed_ids(server: &Server) {
    let unknown = RunId::new().to_string();
    let (code, _, err) = server.client(&["status", &unknown], None).await;
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = server.client(&["status", "nope"], None).await;
    assert_eq!(code, 2);
    assert!(err.contains("not a run id"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_says_when_the_server_is_unreachable() {
    let env = TestEnv::new();
    let mut server = Server::start(&env, "", "").await;
    server.sigterm();
    assert_eq!(server.wait_exit().await.code(), Some(0));
    let (code, _, err) = server.client(&["runs"], None).await;
    assert_eq!(code, 1);
    assert!(err.contains("cannot reach the server"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let site = Site::serve(vec![(
        "/slow",
        Page::Html("<title>slow</title><p>waiting</p>".into()),
    )])
    .await;
    let env = TestEnv::new();
    let server = Server::start(
        &env,
        "max_concurrent_runs = 1\nqueue_capacity = 0\n",
        "retry_after_seconds = 7",
    )
    .await;
    let slow = format!(
        r##"{{"driver": {{"type": "script", "steps": [
              {{"action": "goto", "url": "{}"}},
              {{"action": "wait_for", "selector": "#never", "timeout_ms": 60000}}]}},
            {LOOPBACK}}}"##,
        site.url("/slow")
    );
    let running = server.submit(&slow).await;
    server.wait_for(running, |s| s["state"] == "running").await;
    let response = server.post("/runs", slow.clone()).await;
    assert_eq!(response.headers()["retry-after"], "7");
    let body = json_with_status(response, 429).await;
    assert_eq!(error_code(&body), "QUEUE_FULL", "{body}");
    assert_eq!(body["error"]["details"]["retry_after_seconds"], 7);
    let ready = server.get_json("/ready", 200).await;
    assert_eq!(
        (ready["running"].as_u64(), ready["capacity"].as_u64()),
        (Some(1), Some(1))
    );

    // The reference's /stop cancels it; then there is room again.
    let ack = json_with_status(server.post(&format!("/runs/{running}/stop"), "").await, 200).await;
    assert_eq!(ack["cancel"], "cancelling", "{ack}");
    assert_eq!(server.wait_terminal(running).await["state"], "cancelled");
    // Its slot frees once its session has wound down, just after its end is visible.
    eventually(
        Duration::from_secs(10),
        "the cancelled run frees its slot",
        async || server.get_json("/ready", 200).await["running"].as_u64() == Some(0),
    )
    .await;
    let again = server.submit(&slow).await;
    server.wait_for(again, |s| s["state"] == "running").await;
    let ack = json_with_status(server.post(&format!("/runs/{again}/cancel"), "").await, 200).await;
    assert_eq!(ack["run_id"], again.to_string());
    assert_eq!(server.wait_terminal(again).await["state"], "cancelled");
    server.assert_no_run_browsers(&env).await;
}
