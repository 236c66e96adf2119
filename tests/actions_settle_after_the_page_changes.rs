//! Actions settle before the next one runs: a click whose handler fetches data and renders it,
//! and a page that loads a slow resource after DOMContentLoaded, are read back without any
//! explicit wait.

mod common;

use std::time::Duration;

use common::{Harness, Page};
use pilothouse::RunState;

const SPA: &str = r#"<!doctype html><title>spa</title>
<button id="load">load</button><ul id="out"></ul>
<script>
document.getElementById('load').addEventListener('click', async () => {
  const items = await (await fetch('/data')).text();
  for (const item of items.split(',')) {
    const li = document.createElement('li');
    li.textContent = item;
    document.getElementById('out').appendChild(li);
  }
});
</script>"#;

const LATE_SCRIPT: &str = r#"<!doctype html><title>late</title><p id="status">waiting</p>
<script async src="/slow.js"></script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_after_click_and_goto_see_the_settled_page() {
    let h = Harness::new(vec![
        ("/", Page::Html(SPA.into())),
        (
            "/data",
            Page::Slow(Duration::from_millis(300), "alpha,beta,gamma".into()),
        ),
        ("/late", Page::Html(LATE_SCRIPT.into())),
        (
            "/slow.js",
            Page::Slow(
                Duration::from_millis(300),
                "document.getElementById('status').textContent = 'ready';".into(),
            ),
        ),
    ])
    .start()
    .await;
    let json = r##"{"driver": {"type": "script", "steps": [
           {"action": "goto", "url": "{base}/"},
           {"action": "click", "selector": "#load"},
           {"action": "extract", "selector": "#out", "store_as": "items"},
           {"action": "goto", "url": "{base}/late"},
           {"action": "extract", "selector": "#status", "store_as": "status"}]},
         "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}}"##;
    let (_, status) = h.run_json(json).await;
    assert_eq!(status.state, RunState::Completed, "{status:?}");
    assert_eq!(status.data["items"], "alpha\nbeta\ngamma");
    assert_eq!(status.data["status"], "ready");
    h.finish().await;
}
