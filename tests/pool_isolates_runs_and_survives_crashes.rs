//! The warm pool (`isolation = "context"`, the default): runs sharing one Chromium never see
//! each other's cookies, localStorage or IndexedDB; a renderer crashed mid-run fails only that
//! run; a pooled Chromium SIGKILLed under three runs fails those three, is replaced, and the
//! next run succeeds; nothing is left after shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Page, Site, TestEnv, request};
use futures::StreamExt;
use pilothouse::{Config, ErrorCode, EventKind, OrchestratorHandle, RunId, RunState};
use serde_json::Value;

const ALLOW_LOCAL: &str =
    r#""guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

fn one_process(env: &TestEnv) -> Config {
    let mut config = env.config();
    config.browser.pool_processes = 1;
    config.browser.spare_contexts = 1;
    config.recording.screenshots = false;
    config
}

fn site_pages() -> Vec<(&'static str, Page)> {
    let waiting = "<title>waiting</title><p>a run that waits</p>".to_owned();
    vec![
        (
            "/",
            Page::Html("<title>origin</title><p>one origin</p>".into()),
        ),
        ("/victim", Page::Html(waiting.clone())),
        ("/bystander", Page::Html(waiting)),
    ]
}

/// Waits until the run has dispatched its action number `step`.
async fn reach_step(handle: &OrchestratorHandle, run_id: RunId, step: u32) {
    let mut events = handle.events(run_id, 0).await.unwrap();
    while let Some(event) = events.next().await {
        if matches!(event.kind, EventKind::Action { step: s, .. } if s == step) {
            return;
        }
    }
    panic!("run {run_id} ended before step {step}");
}

/// A run that opens `path` and then waits far longer than the test.
fn waiting_run(site: &Site, path: &str) -> pilothouse::RunRequest {
    let json = format!(
        r##"{{"driver": {{"type": "script", "steps": [
               {{"action": "goto", "url": "{{base}}{path}"}},
               {{"action": "wait_for", "selector": "#never", "timeout_ms": 60000}}]}},
             {ALLOW_LOCAL}}}"##
    );
    request(&json, site)
}

fn crashed(status: &pilothouse::RunStatus) -> bool {
    status.state == RunState::Failed
        && status.error.as_ref().map(|e| e.code) == Some(ErrorCode::BrowserCrashed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_one_process_share_nothing() {
    let site = Site::serve(site_pages()).await;
    let env = TestEnv::new();
    let orchestrator = env.start_with(one_process(&env)).await;
    let handle = orchestrator.handle();
    let write = r##"(async () => {
        document.cookie = 'who=run-a; max-age=3600';
        localStorage.setItem('who', 'run-a');
        const db = await new Promise((ok, no) => {
            const open = indexedDB.open('runs', 1);
            open.onupgradeneeded = () => open.result.createObjectStore('kv');
            open.onsuccess = () => ok(open.result);
            open.onerror = () => no(open.error);
        });
        await new Promise((ok) => {
            const tx = db.transaction('kv', 'readwrite');
            tx.objectStore('kv').put('run-a', 'who');
            tx.oncomplete = ok;
        });
        return 'written';
    })()"##;
    let read = r##"(async () => {
        const dbs = (await indexedDB.databases()).map((d) => d.name);
        return { cookie: document.cookie, storage: localStorage.getItem('who'), dbs };
    })()"##;
    let run = |script: &str| {
        let json = format!(
            r##"{{"driver": {{"type": "script", "steps": [
                   {{"action": "goto", "url": "{{base}}/"}},
                   {{"action": "evaluate", "script": {script}, "store_as": "seen"}}]}},
                 {ALLOW_LOCAL}}}"##,
            script = serde_json::to_string(script).unwrap()
        );
        request(&json, &site)
    };
    assert!(handle.pool_warm(Duration::from_secs(10)).await);
    let pool_before = env.pool_main_processes();
    assert_eq!(pool_before.len(), 1);
    let a = handle.submit(run(write)).await.unwrap();
    let status = h.wait(a).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.data["seen"], "written");
    // Run A wrote all three; in its own context it reads them back (the check can fail).
    let a_reads = handle
        .submit(run(&format!("{write}.then(() => {read})")))
        .await
        .unwrap();
    let status = h.wait(a_reads).await;
    assert_eq!(status.data["seen"]["storage"], "run-a", "{status:?}");
    assert_eq!(status.data["seen"]["cookie"], "who=run-a");
    assert_eq!(status.data["seen"]["dbs"], serde_json::json!(["runs"]));

    let b = handle.submit(run(read)).await.unwrap();
    let status = h.wait(b).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    let seen = &status.data["seen"];
    assert_eq!(seen["cookie"], "", "cookies leaked between runs: {seen}");
    assert_eq!(seen["storage"], Value::Null, "localStorage leaked: {seen}");
    assert_eq!(
        seen["dbs"],
        serde_json::json!([]),
        "IndexedDB leaked: {seen}"
    );

    // All three runs were served by the same warm process.
    let stats = handle.stats().await.unwrap().pool.expect("a pool");
    assert_eq!(stats.contexts_served, 3, "{stats:?}");
    assert_eq!(env.pool_main_processes(), pool_before, "{stats:?}");
    env.assert_no_run_browsers(&handle).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_renderer_fails_only_its_run() {
    let site = Site::serve(site_pages()).await;
    let env = TestEnv::new();
    let orchestrator = env.start_with(one_process(&env)).await;
    let handle = orchestrator.handle();
    let victim = handle.submit(waiting_run(&site, "/victim")).await.unwrap();
    let bystander = handle
        .submit(waiting_run(&site, "/bystander"))
        .await
        .unwrap();
    reach_step(&handle, victim, 1).await;
    reach_step(&handle, bystander, 1).await;

    common::devtools::crash_page(&env, "/victim").await;
    let crashed_at = Instant::now();
    let status = h.wait(victim).await;
    assert!(crashed(&status), "{status:?}");
    assert!(
        crashed_at.elapsed() < Duration::from_secs(2),
        "the crash was noticed after {:?}",
        crashed_at.elapsed()
    );
    // The other run on the same process is untouched, and is still waiting.
    assert_eq!(
        handle.status(bystander).await.unwrap().unwrap().state,
        RunState::Running
    );
    handle.cancel(bystander).await.unwrap();
    assert_eq!(h.wait(bystander).await.state, RunState::Cancelled);
    let stats = handle.stats().await.unwrap().pool.unwrap();
    assert_eq!((stats.crashed, stats.processes), (0, 1), "{stats:?}");
    env.assert_no_run_browsers(&handle).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_pool_browser_fails_its_runs_and_is_replaced() {
    let site = Site::serve(site_pages()).await;
    let env = TestEnv::new();
    let orchestrator = env.start_with(one_process(&env)).await;
    let handle = orchestrator.handle();
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(handle.submit(waiting_run(&site, "/victim")).await.unwrap());
    }
    for &run in &runs {
        reach_step(&handle, run, 1).await;
    }
    let [pid] = env.pool_main_processes()[..] else {
        panic!("one pooled browser: {:?}", env.pool_main_processes());
    };
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    for &run in &runs {
        let status = h.wait(run).await;
        assert!(crashed(&status), "{status:?}");
    }
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );

    // The pool replaced it: the next run completes on a fresh process.
    let ok = h.submit_json(&format!(r##"{{"driver": {{"type": "script", "steps": [{{"action": "goto", "url": "{{base}}/"}}]}}, {ALLOW_LOCAL}}}"##)).await;
    let status = h.wait(ok).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    let stats = handle.stats().await.unwrap().pool.unwrap();
    assert_eq!((stats.crashed, stats.processes), (1, 1), "{stats:?}");
    let now = env.pool_main_processes();
    assert!(!now.contains(&pid) && now.len() == 1, "{now:?}");
    env.assert_no_run_browsers(&handle).await;
    h.finish().await;
}
