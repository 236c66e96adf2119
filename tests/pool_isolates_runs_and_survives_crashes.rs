//! The warm pool (`isolation = "context"`, the default): runs sharing one Chromium never see
//! each other's cookies, localStorage or IndexedDB; a renderer crashed mid-run fails only that
//! run; a pooled Chromium SIGKILLed under three runs fails those three, is replaced, and the
//! next run succeeds; nothing is left after shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Harness, Page};
use pilothouse::{ErrorCode, RunState, RunStatus};
use serde_json::Value;

const ALLOW_LOCAL: &str =
    r#""guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}"#;

/// One warm process, one spare context, no screenshots.
async fn start_one_process() -> Harness {
    Harness::new(site_pages())
        .config(|c| {
            c.browser.pool_processes = 1;
            c.browser.spare_contexts = 1;
            c.recording.screenshots = false;
        })
        .start()
        .await
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

/// A run that opens `path` and then waits far longer than the test.
fn waiting_run(h: &Harness, path: &str) -> pilothouse::RunRequest {
    let json = format!(
        r##"{{"driver": {{"type": "script", "steps": [
               {{"action": "goto", "url": "{{base}}{path}"}},
               {{"action": "wait_for", "selector": "#never", "timeout_ms": 60000}}]}},
             {ALLOW_LOCAL}}}"##
    );
    h.request(&json)
}

fn crashed(status: &RunStatus) -> bool {
    status.state == RunState::Failed
        && status.error.as_ref().map(|e| e.code) == Some(ErrorCode::BrowserCrashed)
}

/// Writes a cookie, localStorage and an IndexedDB database.
const WRITE: &str = r##"(async () => {
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

/// Reads back what `WRITE` wrote.
const READ: &str = r##"(async () => {
    const dbs = (await indexedDB.databases()).map((d) => d.name);
    return { cookie: document.cookie, storage: localStorage.getItem('who'), dbs };
})()"##;

/// Runs `script` on the site's page; the finished status, its result under `data.seen`.
async fn evaluate(h: &Harness, script: &str) -> RunStatus {
    let json = format!(
        r##"{{"driver": {{"type": "script", "steps": [
               {{"action": "goto", "url": "{{base}}/"}},
               {{"action": "evaluate", "script": {script}, "store_as": "seen"}}]}},
             {ALLOW_LOCAL}}}"##,
        script = serde_json::to_string(script).unwrap()
    );
    h.run_json(&json).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_one_process_share_nothing() {
    let h = start_one_process().await;
    assert!(h.handle.pool_warm(Duration::from_secs(10)).await);
    let pool_before = h.env.pool_main_processes();
    assert_eq!(pool_before.len(), 1);
    let status = evaluate(&h, WRITE).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.data["seen"], "written");
    // Run A wrote all three; in its own context it reads them back (the check can fail).
    let status = evaluate(&h, &format!("{WRITE}.then(() => {READ})")).await;
    assert_eq!(status.data["seen"]["storage"], "run-a", "{status:?}");
    assert_eq!(status.data["seen"]["cookie"], "who=run-a");
    assert_eq!(status.data["seen"]["dbs"], serde_json::json!(["runs"]));

    let status = evaluate(&h, READ).await;
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
    let stats = h.handle.stats().await.unwrap().pool.expect("a pool");
    assert_eq!(stats.contexts_served, 3, "{stats:?}");
    assert_eq!(h.env.pool_main_processes(), pool_before, "{stats:?}");
    h.env.assert_no_run_browsers(&h.handle).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_renderer_fails_only_its_run() {
    let h = start_one_process().await;
    let (env, handle) = (&h.env, &h.handle);
    let victim = handle.submit(waiting_run(&h, "/victim")).await.unwrap();
    let bystander = handle.submit(waiting_run(&h, "/bystander")).await.unwrap();
    h.reach_step(victim, 1).await;
    h.reach_step(bystander, 1).await;

    common::devtools::crash_page(env, "/victim").await;
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
    env.assert_no_run_browsers(handle).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_pool_browser_fails_its_runs_and_is_replaced() {
    let h = start_one_process().await;
    let (env, handle) = (&h.env, &h.handle);
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(handle.submit(waiting_run(&h, "/victim")).await.unwrap());
    }
    for &run in &runs {
        h.reach_step(run, 1).await;
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
    env.assert_no_run_browsers(handle).await;
    h.finish().await;
}
