//! Each run's `report.html` is a self-contained page: opened in headless Chromium (straight
//! from disk, no server), it shows every step with its screenshot, timing, result or error, the
//! final page, and loads no resource at all — nothing can fail to load.

mod common;

use common::harness::SHUTDOWN_GRACE;
use common::{FORM_PAGE, Harness, Page};
use pilothouse::RunState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_shows_each_step_with_its_screenshot_and_loads_nothing() {
    let h = Harness::new(vec![("/", Page::Html(FORM_PAGE.into()))])
        .start()
        .await;
    let run_id = h.submit_json(r##"{"driver": {"type": "script", "steps": [
                   {"action": "goto", "url": "{base}/"},
                   {"action": "type", "selector": "#name", "text": "Ada <b>"},
                   {"action": "click", "selector": "#submit"},
                   {"action": "wait_for", "selector": "#out", "state": "visible"},
                   {"action": "extract", "selector": "#out", "store_as": "greeting"},
                   {"action": "screenshot"},
                   {"action": "extract", "selector": "#missing"}]},
                 "limits": {"action_timeout_ms": 1500},
                 "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##).await;
    let status = h.wait(run_id).await;
    assert_eq!(status.state, RunState::Failed, "{status:?}");
    let Harness {
        env, orchestrator, ..
    } = h;
    orchestrator.shutdown(SHUTDOWN_GRACE).await;
    let report = env
        .runs_dir()
        .join(run_id.to_string())
        .join("recording/report.html");
    assert!(report.is_file(), "no report at {}", report.display());
    let viewer = env.dir.path().join("report-viewer");
    let (facts, failed_load) = common::viewer::open_file(&report, &viewer, FACTS).await;
    assert_eq!(failed_load, None, "a resource failed to load");
    assert_report_shows_every_step(&facts);
    env.assert_no_browsers().await;
}

/// What the report shows.
const FACTS: &str = r#"(() => {
                    const steps = [...document.querySelectorAll('li.step')];
                    return {
                      steps: steps.map(li => ({
                        n: li.dataset.step,
                        failed: li.classList.contains('failed'),
                        text: li.innerText,
                        images: [...li.querySelectorAll('img')].map(i => i.complete && i.naturalWidth > 0),
                      })),
                      final_image: [...document.querySelectorAll('img')].pop().alt,
                      all_images_loaded: [...document.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0),
                      resources: performance.getEntriesByType('resource').map(r => r.name),
                      state: document.getElementById('state').textContent,
                      scripts: document.scripts.length,
                    };
                })()"#;

/// The report loads nothing, shows every step with its timing and screenshot, and the page's
/// text as text.
fn assert_report_shows_every_step(facts: &serde_json::Value) {
    assert_eq!(
        facts["resources"],
        serde_json::json!([]),
        "the report loads nothing"
    );
    assert_eq!(facts["scripts"], 0);
    assert_eq!(facts["state"], "failed");
    assert_eq!(facts["all_images_loaded"], true, "{facts}");
    assert_eq!(facts["final_image"], "final screenshot");
    let steps = facts["steps"].as_array().unwrap();
    let names = [
        "goto",
        "type",
        "click",
        "wait_for",
        "extract",
        "screenshot",
        "extract",
    ];
    assert_eq!(steps.len(), names.len(), "{facts}");
    for (i, (step, name)) in steps.iter().zip(names).enumerate() {
        assert_eq!(step["n"], (i + 1).to_string());
        let text = step["text"].as_str().unwrap();
        assert!(text.starts_with(&format!("{}. {name}", i + 1)), "{text}");
        assert!(text.contains(" ms"), "no timing in {text}");
        assert_eq!(step["images"], serde_json::json!([true]), "step {}", i + 1);
    }
    // The page's text is shown as text (escaped), results and errors with their steps.
    assert!(
        steps[4]["text"]
            .as_str()
            .unwrap()
            .contains("Hello, Ada <b>!")
    );
    assert_eq!(steps[6]["failed"], true);
    assert!(steps[6]["text"].as_str().unwrap().contains("#missing"));
    assert!(steps[..6].iter().all(|s| s["failed"] == false));
}
