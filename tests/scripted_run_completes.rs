//! A scripted run navigates, types, clicks, waits, extracts a value computed by the page's
//! JavaScript, and completes; the value is in `status.json` under `data`.

mod common;

use common::{FORM_PAGE, Harness, Page};
use pilothouse::{RunId, RunState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_run_completes_with_extracted_data() {
    let h = Harness::new(vec![
        (
            "/",
            Page::Html("<title>Home</title><a href='/form'>form</a>".into()),
        ),
        ("/form", Page::Html(FORM_PAGE.into())),
    ])
    .start()
    .await;
    let (run_id, status) = h
        .run_json(
            r##"{"start_url": "{base}/",
             "driver": {"type": "script", "steps": [
               {"action": "goto", "url": "{base}/form"},
               {"action": "type", "selector": "#name", "text": "Ada"},
               {"action": "click", "selector": "#submit"},
               {"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000},
               {"action": "extract", "selector": "#out", "store_as": "greeting"},
               {"action": "evaluate", "script": "document.title", "store_as": "title"},
               {"action": "press_key", "key": "Tab"},
               {"action": "screenshot"}]},
             "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
             "labels": {"team": "demo"}}"##,
        )
        .await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.data["greeting"], "Hello, Ada! 50");
    assert_eq!(status.data["title"], "Greeted Ada");
    assert_eq!(status.action_count, 9);
    assert_status_file(&h, run_id);
    assert!(h.site.requests().contains(&"/form".to_owned()));
    h.finish().await;
}

/// `status.json` says the same, with every timing field, and the last step's screenshot is a JPEG.
fn assert_status_file(h: &Harness, run_id: RunId) {
    let on_disk = h.env.status_json(run_id);
    assert_eq!(on_disk["state"], "completed");
    assert_eq!(on_disk["data"]["greeting"], "Hello, Ada! 50");
    assert_eq!(on_disk["labels"]["team"], "demo");
    for field in [
        "run_id",
        "created_at",
        "started_at",
        "finished_at",
        "duration_ms",
        "action_count",
    ] {
        assert!(!on_disk[field].is_null(), "status.json lacks {field}");
    }
    let shot = h
        .env
        .runs_dir()
        .join(run_id.to_string())
        .join("recording/screenshots/0009_screenshot.jpg");
    let bytes = std::fs::read(&shot).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "not a JPEG");
}
