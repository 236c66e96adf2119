//! Opening a self-contained HTML file (a run's `report.html`, an evaluation report) from disk
//! in a headless Chromium of the test's own, to read what the page shows and whether anything
//! it asked for failed to load.

use std::path::Path;
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::network::EventLoadingFailed;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;
use pilothouse::Config;

/// Opens `file` with its profile in `profile`, evaluates `script` (an expression) on it; its
/// value, and the first resource that failed to load, if any. The browser is closed after.
pub async fn open_file(
    file: &Path,
    profile: &Path,
    script: &str,
) -> (serde_json::Value, Option<String>) {
    let chromium = Config::default().resolve_chromium().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .new_headless_mode()
        .no_sandbox()
        .arg("disable-gpu")
        .arg("no-first-run")
        .user_data_dir(profile)
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let handler_task = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if event.is_err() {
                break;
            }
        }
    });
    let checked = async {
        let page = browser.new_page("about:blank").await?;
        let mut failures = page.event_listener::<EventLoadingFailed>().await?;
        page.goto(format!("file://{}", file.display())).await?;
        page.wait_for_navigation().await?;
        let facts: serde_json::Value = page.evaluate(script).await?.into_value()?;
        let failed_loads = tokio::time::timeout(Duration::from_millis(200), failures.next())
            .await
            .ok()
            .flatten();
        anyhow::Ok((facts, failed_loads.map(|e| e.error_text.clone())))
    }
    .await;
    let _ = browser.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), browser.wait()).await;
    handler_task.abort();
    checked.unwrap()
}
