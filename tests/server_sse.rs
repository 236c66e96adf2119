//! Server-sent events as clients get them: a real browser's `EventSource` (in headless
//! Chromium, on a page this test serves, across origins allowed by `cors_origins`) records a
//! live run's events exactly as `events.jsonl` holds them; a client that drops mid-run resumes
//! with `Last-Event-ID` and gets exactly the rest; heartbeats are comments without ids; the
//! `/events` firehose and `pilothouse events --follow` see the same run.

mod common;

use std::process::Output;
use std::time::Duration;

use common::server::{LOOPBACK, RUN_TIMEOUT, Server, sse_frames};
use common::{Page, Site, TestEnv, eventually};
use pilothouse::RunId;
use serde_json::Value;
use tokio::task::JoinHandle;

/// A page whose `#late` appears after `delay_ms`, so a run waiting for it stays live a while.
fn late_page(delay_ms: u64) -> String {
    format!(
        r#"<!doctype html><title>late</title><p>soon</p><script>
setTimeout(() => {{ const d = document.createElement('div'); d.id = 'late';
  d.textContent = 'arrived'; document.body.appendChild(d); }}, {delay_ms});
</script>"#
    )
}

/// Records every event of the EventSource at `?src=` into `window.recorded`, closes on
/// `finished` and then shows `#done`.
const OBSERVER_PAGE: &str = r#"<!doctype html><title>observer</title><script>
window.recorded = []; window.errors = 0;
const src = new URLSearchParams(location.search).get('src');
const es = new EventSource(src);
for (const type of ['queued', 'state', 'browser_ready', 'action', 'navigated',
                    'guardrail_blocked', 'stuck', 'log', 'finished']) {
  es.addEventListener(type, (e) => {
    window.recorded.push({id: e.lastEventId, type: e.type, data: JSON.parse(e.data),
                          received_ms: Date.now()});
    if (type === 'finished') {
      es.close();
      const done = document.createElement('div');
      done.id = 'done'; done.textContent = 'done'; document.body.appendChild(done);
    }
  });
}
es.onerror = () => { window.errors += 1; };
</script>"#;

/// A run that waits on the late page, then extracts and screenshots.
fn waiting_run(site: &Site) -> String {
    format!(
        r##"{{"driver": {{"type": "script", "steps": [
              {{"action": "goto", "url": "{}"}},
              {{"action": "wait_for", "selector": "#late", "timeout_ms": 15000}},
              {{"action": "extract", "selector": "#late", "store_as": "late"}},
              {{"action": "screenshot"}}]}},
            {LOOPBACK}}}"##,
        site.url("/late")
    )
}

/// The events of `events.jsonl` as (id, type, event) frames.
fn expected_frames(env: &TestEnv, run_id: RunId) -> Vec<(String, String, Value)> {
    env.events_jsonl(run_id)
        .into_iter()
        .map(|e| {
            (
                e["seq"].to_string(),
                e["type"].as_str().unwrap().to_owned(),
                e,
            )
        })
        .collect()
}

/// Parsed (id, type, data) of the non-comment frames of an SSE body.
fn event_frames(text: &str) -> Vec<(String, String, Value)> {
    sse_frames(text)
        .into_iter()
        .filter(|(_, event, _)| event != ":")
        .map(|(id, event, data)| (id, event, serde_json::from_str(&data).unwrap()))
        .collect()
}

/// Reads the stream until it ends (or `stop_after` complete event frames); the raw text.
async fn read_stream(response: &mut reqwest::Response, stop_after: Option<usize>) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + RUN_TIMEOUT;
    loop {
        if stop_after.is_some_and(|n| event_frames(&complete_part(&text)).len() >= n) {
            return complete_part(&text);
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the event stream did not end in time")
            .unwrap();
        match chunk {
            Some(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            None => return text,
        }
    }
}

/// The text up to the last complete frame.
fn complete_part(text: &str) -> String {
    text.rfind("\n\n")
        .map_or_else(String::new, |end| text[..end + 2].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_event_source_records_every_event_of_a_live_run() {
    let site = Site::serve(vec![
        ("/late", Page::Html(late_page(3_000))),
        ("/observer", Page::Html(OBSERVER_PAGE.into())),
    ])
    .await;
    let env = TestEnv::new();
    let origin = format!("http://{}", site.addr);
    let server = Server::start(&env, "", &format!("cors_origins = [{origin:?}]")).await;
    let target = server.submit(&waiting_run(&site)).await;
    let observed = observe_in_a_browser(&server, &site, target).await;
    assert_eq!(server.wait_terminal(target).await["state"], "completed");

    let expected = expected_frames(&env, target);
    assert!(expected.len() >= 8, "{expected:?}");
    assert_eq!(
        recorded_frames(&observed),
        expected,
        "the browser's events differ from events.jsonl"
    );
    assert_eq!(
        observed["data"]["errors"], 0,
        "the EventSource had to reconnect"
    );
    the_events_arrived_live(&observed);
    cors_allows_only_the_configured_origin(&server, target, &origin).await;
    server.assert_no_run_browsers(&env).await;
}

/// Runs the observer page on `target`'s event stream until it saw `finished`; the observer
/// run's completed status.
async fn observe_in_a_browser(server: &Server, site: &Site, target: RunId) -> Value {
    let events_url = server.url(&format!("/runs/{target}/events"));
    let observer_url =
        reqwest::Url::parse_with_params(&site.url("/observer"), &[("src", &events_url)]).unwrap();
    let observer = server
        .submit(&format!(
            r##"{{"driver": {{"type": "script", "steps": [
                  {{"action": "goto", "url": "{observer_url}"}},
                  {{"action": "wait_for", "selector": "#done", "timeout_ms": 30000}},
                  {{"action": "evaluate", "script": "window.recorded", "store_as": "recorded"}},
                  {{"action": "evaluate", "script": "window.errors", "store_as": "errors"}}]}},
                {LOOPBACK}}}"##
        ))
        .await;
    let observed = server.wait_terminal(observer).await;
    assert_eq!(observed["state"], "completed", "{observed}");
    observed
}

/// What the observer's EventSource recorded, as (id, type, data) frames.
fn recorded_frames(observed: &Value) -> Vec<(String, String, Value)> {
    let recorded = match &observed["data"]["recorded"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    recorded
        .as_array()
        .unwrap_or_else(|| panic!("nothing recorded: {observed}"))
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["type"].as_str().unwrap().to_owned(),
                e["data"].clone(),
            )
        })
        .collect()
}

/// The run was live while the browser listened: its events arrived over the 3 s the run
/// waited for #late, not in one replayed burst.
fn the_events_arrived_live(observed: &Value) {
    let received: Vec<u64> = observed["data"]["recorded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["received_ms"].as_f64().unwrap() as u64)
        .collect();
    let spread = received.last().unwrap() - received.first().unwrap();
    assert!(
        spread >= 1_000,
        "all events arrived within {spread} ms: a replay, not live"
    );
}

/// CORS: the configured origin is allowed, any other is not.
async fn cors_allows_only_the_configured_origin(server: &Server, run: RunId, origin: &str) {
    for (asking, allowed) in [(origin, true), ("http://evil.test", false)] {
        let response = server
            .http
            .get(server.url(&format!("/runs/{run}")))
            .header("origin", asking)
            .send()
            .await
            .unwrap();
        let header = response.headers().get("access-control-allow-origin");
        assert_eq!(
            header.is_some_and(|h| h == asking),
            allowed,
            "{asking}: {header:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_resumes_with_last_event_id_and_gets_exactly_the_rest() {
    let site = Site::serve(vec![("/late", Page::Html(late_page(2_500)))]).await;
    let env = TestEnv::new();
    let server = Server::start(&env, "", "heartbeat_seconds = 1").await;
    // The firehose, subscribed before the run exists.
    let firehose = server.get("/events").await;
    assert_eq!(firehose.status(), 200);
    let run_id = server.submit(&waiting_run(&site)).await;
    let follower = follow_with_the_client(&server, run_id);

    let head = a_first_client_reads_three_events_and_drops(&server, run_id).await;
    let logged = a_replay_only_client_gets_what_was_logged(&server, run_id).await;
    let last_id = head.last().unwrap().0.clone();
    let rest_text = a_second_client_resumes_after(&server, run_id, &last_id).await;
    let rest = event_frames(&rest_text);
    let mut joined = head.clone();
    joined.extend(rest.clone());
    assert_eq!(
        joined,
        expected_frames(&env, run_id),
        "gap or duplicate at the resume point"
    );
    assert_eq!(
        rest.last().unwrap().1,
        "finished",
        "the stream did not end after finished"
    );
    assert_eq!(
        logged,
        expected_frames(&env, run_id)[..logged.len()].to_vec(),
        "the replay-only stream is not the log's prefix"
    );
    heartbeats_are_comments_without_ids(&rest_text);

    // ?after=N resumes the same way; the stream of a finished run replays and ends.
    let mut after = server.get(&format!("/runs/{run_id}/events?after=2")).await;
    let replay = event_frames(&read_stream(&mut after, None).await);
    assert_eq!(replay, expected_frames(&env, run_id)[2..].to_vec());

    the_firehose_carried_the_same_events(firehose, &env, run_id).await;
    the_follower_printed_the_run(follower.await.unwrap());
    server.assert_no_run_browsers(&env).await;
}

/// Starts `pilothouse events RUN --follow` against the server; its output once it exits.
fn follow_with_the_client(server: &Server, run_id: RunId) -> JoinHandle<Output> {
    let server_base = server.base.clone();
    let id = run_id.to_string();
    tokio::spawn(async move {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pilothouse"))
            .args(["events", &id, "--follow", "--server", &server_base])
            .env_remove(pilothouse::API_KEY_ENV)
            .kill_on_drop(true)
            .output();
        tokio::time::timeout(RUN_TIMEOUT, output)
            .await
            .unwrap()
            .unwrap()
    })
}

/// A first client (with the stream's headers) reads the first three events, then drops the
/// connection mid-run; the events it read.
async fn a_first_client_reads_three_events_and_drops(
    server: &Server,
    run_id: RunId,
) -> Vec<(String, String, Value)> {
    let mut first = server.get(&format!("/runs/{run_id}/events")).await;
    let headers = first.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let head = event_frames(&read_stream(&mut first, Some(3)).await);
    drop(first);
    assert_eq!(
        server.get_json(&format!("/runs/{run_id}"), 200).await["state"]
            .as_str()
            .map(|s| s == "completed"),
        Some(false),
        "the run ended before the client dropped"
    );
    head
}

/// A replay-only client (`?follow=false`) gets what was logged so far and its stream ends
/// while the run is still going; the events it got.
async fn a_replay_only_client_gets_what_was_logged(
    server: &Server,
    run_id: RunId,
) -> Vec<(String, String, Value)> {
    let mut replay_only = server
        .get(&format!("/runs/{run_id}/events?follow=false"))
        .await;
    let logged = event_frames(&read_stream(&mut replay_only, None).await);
    assert!(logged.len() >= 3, "{logged:?}");
    assert_ne!(logged.last().unwrap().1, "finished", "{logged:?}");
    logged
}

/// A second client resumes after the last id it saw (`Last-Event-ID` on `/stream`) and reads
/// to the end; the raw text.
async fn a_second_client_resumes_after(server: &Server, run_id: RunId, last_id: &str) -> String {
    let mut second = server
        .http
        .get(server.url(&format!("/runs/{run_id}/stream")))
        .header("last-event-id", last_id)
        .send()
        .await
        .unwrap();
    read_stream(&mut second, None).await
}

/// Heartbeats came while the page was waiting, as comments with no id.
fn heartbeats_are_comments_without_ids(text: &str) {
    let blocks: Vec<&str> = text.split("\n\n").collect();
    let heartbeats: Vec<&&str> = blocks.iter().filter(|b| b.starts_with(':')).collect();
    assert!(!heartbeats.is_empty(), "no heartbeat in {text}");
    assert!(
        heartbeats.iter().all(|b| !b.contains("id:")),
        "{heartbeats:?}"
    );
}

/// The firehose carried the same events, in order.
async fn the_firehose_carried_the_same_events(
    mut firehose: reqwest::Response,
    env: &TestEnv,
    run_id: RunId,
) {
    let mut text = String::new();
    loop {
        let frames = event_frames(&complete_part(&text));
        if frames.iter().any(|(_, t, _)| t == "finished") {
            let ours: Vec<_> = frames
                .into_iter()
                .filter(|(_, _, e)| e["run_id"] == run_id.to_string())
                .collect();
            assert_eq!(ours, expected_frames(env, run_id));
            return;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), firehose.chunk())
            .await
            .expect("the firehose stalled")
            .unwrap()
            .expect("the firehose ended early");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

/// `pilothouse events --follow` printed the run as `pilothouse run` does, exit 0.
fn the_follower_printed_the_run(output: Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("  2 wait_for #late") && l.contains("  ok  ")),
        "{stdout}"
    );
    assert!(stdout.contains("state     completed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_known_only_to_the_store_is_served_the_same() {
    let site = Site::serve(vec![("/late", Page::Html(late_page(10)))]).await;
    let env = TestEnv::new();
    // No finished run stays in memory: status, events and recordings come from the store.
    let server = Server::start(&env, "[registry]\nmax_finished_runs = 0\n", "").await;
    let run_id = server.submit(&waiting_run(&site)).await;
    let status = server.wait_terminal(run_id).await;
    assert_eq!(status["state"], "completed", "{status}");
    eventually(RUN_TIMEOUT, "the run leaves memory", async || {
        let in_memory = server.get_json("/ready", 200).await["runs_in_memory"].clone();
        if in_memory == 0 {
            Ok(())
        } else {
            Err(in_memory)
        }
    })
    .await;
    let mut stream = server.get(&format!("/runs/{run_id}/events")).await;
    let frames = event_frames(&read_stream(&mut stream, None).await);
    assert_eq!(frames, expected_frames(&env, run_id));
    let mut resumed = server
        .http
        .get(server.url(&format!("/runs/{run_id}/events")))
        .header("last-event-id", "3")
        .send()
        .await
        .unwrap();
    let rest = event_frames(&read_stream(&mut resumed, None).await);
    assert_eq!(rest, expected_frames(&env, run_id)[3..].to_vec());
    let manifest = server
        .get_json(&format!("/runs/{run_id}/recording/manifest.json"), 200)
        .await;
    assert_eq!(manifest["run_id"], run_id.to_string());
    server.assert_no_run_browsers(&env).await;
}
