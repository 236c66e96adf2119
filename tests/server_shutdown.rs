//! SIGTERM to `pilothouse serve` with three runs going: it stops admitting (503
//! `SHUTTING_DOWN`, `/ready` 503), lets the run that can finish within `shutdown_grace_seconds`
//! complete, cancels the other two, ends every SSE stream after its terminal event (and the
//! `/events` firehose after the last run), persists every status, exits 0, and leaves no
//! Chromium behind.

mod common;

use std::time::{Duration, Instant};

use common::server::{LOOPBACK, RUN_TIMEOUT, Server, error_code, json_with_status, sse_frames};
use common::{Page, Site, TestEnv, eventually};
use pilothouse::RunId;
use tokio::task::JoinHandle;

/// Reads an SSE response to its end; the (id, event, data) frames.
async fn read_to_end(mut response: reqwest::Response) -> Frames {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + RUN_TIMEOUT;
    while let Some(chunk) = tokio::time::timeout_at(deadline, response.chunk())
        .await
        .expect("the stream did not end")
        .unwrap()
    {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    sse_frames(&text)
        .into_iter()
        .filter(|(_, event, _)| event != ":")
        .collect()
}

/// (id, event, data) frames of one SSE stream.
type Frames = Vec<(String, String, String)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_runs_ends_streams_and_exits_0() {
    let site = late_and_never_site().await;
    let env = TestEnv::new();
    let mut server = Server::start(
        &env,
        "max_concurrent_runs = 3\n",
        "shutdown_grace_seconds = 10",
    )
    .await;
    let finishing = server.submit(&wait_for_run(&site, "/late", "#late")).await;
    let stuck = [
        server
            .submit(&wait_for_run(&site, "/never", "#never"))
            .await,
        server
            .submit(&wait_for_run(&site, "/never", "#never"))
            .await,
    ];
    let all = [finishing, stuck[0], stuck[1]];
    let (streams, firehose) = follow_once_running(&server, &all).await;

    server.sigterm();
    draining_admits_nothing(&server, &site).await;
    let finals = every_stream_ends_with_its_terminal_event(&all, streams).await;
    assert_eq!(finals, ["completed", "cancelled", "cancelled"]);
    // The firehose saw all three terminal events, then ended.
    let fire = firehose.await.unwrap();
    let terminal = fire.iter().filter(|(_, e, _)| e == "finished").count();
    assert_eq!(terminal, 3, "{fire:?}");

    let exit = server.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "{}", server.stderr());
    for (run_id, state) in all.iter().zip(&finals) {
        assert_eq!(&env.status_json(*run_id)["state"], state.as_str());
    }
    env.assert_no_browsers().await;
}

/// `/late` shows `#late` after 1.5 s; `/never` never shows anything.
async fn late_and_never_site() -> Site {
    Site::serve(vec![
        (
            "/late",
            Page::Html(
                r#"<title>late</title><script>setTimeout(() => {
                   const d = document.createElement('div'); d.id = 'late'; d.textContent = 'ok';
                   document.body.appendChild(d); }, 1500);</script>"#
                    .into(),
            ),
        ),
        (
            "/never",
            Page::Html("<title>never</title><p>nothing comes</p>".into()),
        ),
    ])
    .await
}

/// A run that opens `path` and waits up to 60 s for `selector`.
fn wait_for_run(site: &Site, path: &str, selector: &str) -> String {
    format!(
        r##"{{"driver": {{"type": "script", "steps": [
              {{"action": "goto", "url": "{}"}},
              {{"action": "wait_for", "selector": "{selector}", "timeout_ms": 60000}}]}},
            {LOOPBACK}}}"##,
        site.url(path)
    )
}

/// Subscribes to the `/events` firehose, then to each run's stream once it is running; the
/// readers of the run streams (in `runs` order) and of the firehose.
async fn follow_once_running(
    server: &Server,
    runs: &[RunId],
) -> (Vec<JoinHandle<Frames>>, JoinHandle<Frames>) {
    let firehose = server.get("/events").await;
    assert_eq!(firehose.status(), 200);
    let mut streams = Vec::new();
    for run_id in runs {
        server.wait_for(*run_id, |s| s["state"] == "running").await;
        let response = server.get(&format!("/runs/{run_id}/events")).await;
        assert_eq!(response.status(), 200);
        streams.push(tokio::spawn(read_to_end(response)));
    }
    (streams, tokio::spawn(read_to_end(firehose)))
}

/// Draining: not ready, and nothing new is admitted.
async fn draining_admits_nothing(server: &Server, site: &Site) {
    let response = eventually(
        Duration::from_secs(5),
        "/ready answers 503 after SIGTERM",
        async || {
            let response = server.get("/ready").await;
            if response.status() == 503 {
                Ok(response)
            } else {
                Err(response.status())
            }
        },
    )
    .await;
    let body = json_with_status(response, 503).await;
    assert_eq!(body["shutting_down"], true, "{body}");
    let late = wait_for_run(site, "/late", "#late");
    let refused = json_with_status(server.post("/runs", late).await, 503).await;
    assert_eq!(error_code(&refused), "SHUTTING_DOWN");
}

/// Every run stream ends with its terminal event; the runs' final states.
async fn every_stream_ends_with_its_terminal_event(
    runs: &[RunId],
    streams: Vec<JoinHandle<Frames>>,
) -> Vec<String> {
    let mut finals = Vec::new();
    for (run_id, stream) in runs.iter().zip(streams) {
        let frames = stream.await.unwrap();
        let (_, event, data) = frames
            .last()
            .unwrap_or_else(|| panic!("{run_id}: no events"));
        assert_eq!(event, "finished", "{run_id}: {frames:?}");
        let data: serde_json::Value = serde_json::from_str(data).unwrap();
        finals.push(data["status"]["state"].as_str().unwrap().to_owned());
    }
    finals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_cancels_at_once() {
    let site = Site::serve(vec![("/never", Page::Html("<title>never</title>".into()))]).await;
    let env = TestEnv::new();
    let mut server = Server::start(&env, "", "shutdown_grace_seconds = 600").await;
    let run_id = server
        .submit(&format!(
            r##"{{"driver": {{"type": "script", "steps": [
                  {{"action": "goto", "url": "{}"}},
                  {{"action": "wait_for", "selector": "#never", "timeout_ms": 300000}}]}},
                {LOOPBACK}}}"##,
            site.url("/never")
        ))
        .await;
    server.wait_for(run_id, |s| s["state"] == "running").await;
    server.sigterm();
    eventually(
        Duration::from_secs(5),
        "/ready answers 503 after SIGTERM",
        async || {
            let status = server.get("/ready").await.status();
            if status == 503 { Ok(()) } else { Err(status) }
        },
    )
    .await;
    let signalled = Instant::now();
    server.sigterm();
    let exit = server.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "{}", server.stderr());
    assert!(
        signalled.elapsed() < Duration::from_secs(30),
        "the second SIGTERM did not cut the 600 s grace short"
    );
    assert_eq!(env.status_json(run_id)["state"], "cancelled");
    env.assert_no_browsers().await;
}
