//! A page cannot make a run's records larger than the operator's bounds: with `[limits]
//! max_result_bytes = 256 KiB` and `max_data_bytes = 1 MiB`, a run that extracts and evaluates
//! a 60 MB text again and again, stores every result and observes the page leaves every file
//! under the runs and recordings dirs (status.json, events.jsonl, actions.jsonl, report.html,
//! final_dom.html, ...) within the run's cap, and each cut says which setting made it.

mod common;

use std::path::Path;

use common::harness::SHUTDOWN_GRACE;
use common::{Harness, Page, TestEnv};
use futures::StreamExt;
use pilothouse::{RunEvent, RunState, RunStatus};
use serde_json::json;

const RESULT_CAP: usize = 256 << 10;
const DATA_CAP: usize = 1 << 20;
/// What a file may hold besides page data: ids, timings, markers, the report's markup and its
/// small screenshots (the big text is not rendered).
const OVERHEAD: u64 = 160 << 10;

/// 60 MB of text, built in the page (not rendered, so layout stays cheap).
const BIG: &str = r#"<!doctype html><title>Big</title><h1>Big</h1>
<pre id="big" style="display:none"></pre>
<script>document.getElementById('big').textContent = 'lorem ipsum '.repeat(5000000);</script>"#;

fn files(dir: &Path, out: &mut Vec<(String, u64)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            let size = entry.metadata().unwrap().len();
            out.push((path.display().to_string(), size));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_megabyte_extract_leaves_every_file_under_the_caps() {
    let h = Harness::new(vec![("/big", Page::Html(BIG.into()))])
        .config(|c| {
            c.limits.max_result_bytes = RESULT_CAP;
            c.limits.max_data_bytes = DATA_CAP;
        })
        .start()
        .await;
    let body = json!({
        "driver": {"type": "script", "steps": [
            {"action": "goto", "url": "{base}/big"},
            {"action": "extract", "selector": "#big", "store_as": "text"},
            {"action": "extract", "selector": "#big", "mode": "html", "store_as": "html"},
            {"action": "evaluate", "script": "document.getElementById('big').textContent",
             "store_as": "evaluated"},
            {"action": "evaluate", "store_as": "list",
             "script": "Array.from({length: 50}, (_, i) => i + ' ' + 'x'.repeat(100000))"},
            {"action": "extract", "selector": "#big", "store_as": "late"},
            {"action": "observe"}
        ]},
        "limits": {"action_timeout_ms": 60000},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    let run_id = h.submit_json(&body.to_string()).await;
    let events: Vec<RunEvent> = h.handle.events(run_id, 0).await.unwrap().collect().await;
    let status = h.handle.status(run_id).await.unwrap().unwrap();
    let Harness {
        env, orchestrator, ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    assert_eq!(status.state, RunState::Completed, "{status:#?}");
    assert_eq!(events.last().map(RunEvent::is_terminal), Some(true));
    assert_results_cut(&status);
    assert_files_under_the_cap(&env, &status);
    env.assert_no_browsers().await;
}

/// Each result was cut at the per-result cap, and the run's budget ran out on the way.
fn assert_results_cut(status: &RunStatus) {
    let text = status.data["text"].as_str().unwrap();
    assert!(text.starts_with("lorem ipsum lorem"), "{}", &text[..40]);
    assert!(
        text.ends_with(&format!("bytes: [limits] max_result_bytes = {RESULT_CAP}]")),
        "{}",
        &text[text.len() - 80..]
    );
    assert!(text.len() <= RESULT_CAP + 100);
    let late = status.data["late"].as_str().unwrap();
    assert!(
        late.contains(&format!("[limits] max_data_bytes = {DATA_CAP}]")),
        "{late}"
    );
    let kept: usize = status.data.values().map(|v| v.to_string().len()).sum();
    assert!(kept <= DATA_CAP + 4096, "{kept} bytes of data kept");
}

/// Every file the run wrote is there and under the data cap (plus its framing).
fn assert_files_under_the_cap(env: &TestEnv, status: &RunStatus) {
    let mut all = Vec::new();
    files(&env.runs_dir(), &mut all);
    files(&env.recordings_dir(), &mut all);
    let names: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "status.json",
        "events.jsonl",
        "report.html",
        "final_dom.html",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(expected)),
            "no {expected}: {names:?} {:?}",
            status.finalize_errors
        );
    }
    for (path, size) in &all {
        assert!(
            *size <= DATA_CAP as u64 + OVERHEAD,
            "{path} is {size} bytes, over max_data_bytes {DATA_CAP} + {OVERHEAD}"
        );
    }
}
