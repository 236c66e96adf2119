//! A second DevTools client on the pool's warm Chromiums, as an operator's debugger would
//! attach: to see which pages are open, and to crash one page's renderer.

use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::page::CrashParams;
use chromiumoxide::cdp::browser_protocol::target::GetTargetsParams;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::{Browser, Page};
use futures::StreamExt;

use super::TestEnv;
use super::eventually::eventually;

/// The DevTools endpoints of the pool's Chromiums, from the `DevToolsActivePort` file Chromium
/// writes in its profile.
pub fn pool_endpoints(env: &TestEnv) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(env.profile_root()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("run-pool")
        })
        .filter_map(|profile| {
            let file = std::fs::read_to_string(profile.join("DevToolsActivePort")).ok()?;
            let mut lines = file.lines();
            let port = lines.next()?;
            let path = lines.next()?;
            Some(format!("ws://127.0.0.1:{port}{path}"))
        })
        .collect()
}

/// A DevTools connection and the task that pumps it (aborted on drop).
pub struct Client {
    pub browser: Browser,
    pump: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

pub async fn connect(url: &str) -> Client {
    // No viewport: a debugger must not change the runs' pages.
    let config = HandlerConfig {
        viewport: None,
        ..HandlerConfig::default()
    };
    let (browser, mut handler) = Browser::connect_with_config(url, config).await.unwrap();
    let pump = tokio::spawn(async move { while handler.next().await.is_some() {} });
    Client { browser, pump }
}

/// The URL of every page open in the pool's Chromiums.
pub async fn pool_page_urls(env: &TestEnv) -> Vec<String> {
    let mut urls = Vec::new();
    for url in pool_endpoints(env) {
        let client = connect(&url).await;
        let targets = client
            .browser
            .execute(GetTargetsParams::default())
            .await
            .unwrap();
        urls.extend(
            targets
                .result
                .target_infos
                .into_iter()
                .filter(|t| t.r#type == "page")
                .map(|t| t.url),
        );
    }
    urls
}

/// The page whose URL ends with `path`, waiting up to 10 s for it to appear.
pub async fn find_page(client: &Client, path: &str) -> Page {
    eventually(
        Duration::from_secs(10),
        &format!("a page at {path}"),
        async || {
            for page in client.browser.pages().await.unwrap() {
                if page
                    .url()
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|u| u.ends_with(path))
                {
                    return Some(page);
                }
            }
            None
        },
    )
    .await
}

/// Crashes the renderer of the pool page whose URL ends with `path` (as a renderer bug or an
/// OOM kill would).
pub async fn crash_page(env: &TestEnv, path: &str) {
    let [url] = &pool_endpoints(env)[..] else {
        panic!("one pooled browser expected");
    };
    let client = connect(url).await;
    let page = find_page(&client, path).await;
    // The renderer dies before it can answer.
    let _ =
        tokio::time::timeout(Duration::from_secs(2), page.execute(CrashParams::default())).await;
}
