//! Shared test harness: a page server on 127.0.0.1 with a request log, an orchestrator on temp
//! dirs, and a check that no Chromium launched by the test outlives it.
#![allow(dead_code, unreachable_pub)]

pub mod devtools;
pub mod logs;
pub mod model;
pub mod remote;
pub mod secrets;
pub mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pilothouse::{Config, Orchestrator, RunRequest};

/// One page the site serves.
#[derive(Clone)]
pub enum Page {
    Html(String),
    /// 302 to the given location.
    Redirect(String),
    /// Responds after a delay.
    Slow(Duration, String),
}

#[derive(Clone, Default)]
struct SiteState {
    pages: Arc<HashMap<String, Page>>,
    log: Arc<Mutex<Vec<String>>>,
}

/// A small web server on 127.0.0.1 with a log of every path requested.
pub struct Site {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    pub async fn serve(pages: Vec<(&str, Page)>) -> Self {
        Self::serve_at("127.0.0.1", pages).await
    }

    /// The same on another loopback address, e.g. `127.0.0.2` for an "outside" host that no
    /// run is allowed to reach.
    pub async fn serve_at(ip: &str, pages: Vec<(&str, Page)>) -> Self {
        let state = SiteState {
            pages: Arc::new(
                pages
                    .into_iter()
                    .map(|(p, page)| (p.to_owned(), page))
                    .collect(),
            ),
            log: Arc::default(),
        };
        let log = state.log.clone();
        let app = axum::Router::new().fallback(serve_page).with_state(state);
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, log, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_page(State(state): State<SiteState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    state.log.lock().unwrap().push(path.clone());
    match state.pages.get(&path).cloned() {
        Some(Page::Html(body)) => html(body),
        Some(Page::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Some(Page::Slow(delay, body)) => {
            tokio::time::sleep(delay).await;
            html(body)
        }
        None if path == "/favicon.ico" => StatusCode::NO_CONTENT.into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// Temp dirs for one test's runs and browser profiles.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    pub fn profile_root(&self) -> PathBuf {
        self.dir.path().join("profiles")
    }

    pub fn recordings_dir(&self) -> PathBuf {
        self.dir.path().join("recordings")
    }

    pub fn config(&self) -> Config {
        let mut config = Config {
            runs_dir: self.runs_dir(),
            profile_root: self.profile_root(),
            ..Config::default()
        };
        config.recording.recordings_dir = self.recordings_dir();
        config
    }

    /// The same directories as a TOML config file's text, with `top_level` keys (one per line)
    /// before the tables.
    pub fn config_toml(&self, top_level: &str) -> String {
        format!(
            "runs_dir = {:?}\nprofile_root = {:?}\n{top_level}[recording]\nrecordings_dir = {:?}\n",
            self.runs_dir(),
            self.profile_root(),
            self.recordings_dir()
        )
    }

    pub async fn start(&self) -> Orchestrator {
        Orchestrator::start(self.config()).await.unwrap()
    }

    pub async fn start_with(&self, config: Config) -> Orchestrator {
        Orchestrator::start(config).await.unwrap()
    }

    /// Chromium processes whose profile lives under this test's profile root.
    pub fn browsers(&self) -> Vec<u32> {
        processes_with_arg(&self.profile_root())
    }

    /// Fails unless every browser this test launched is gone (polled briefly: the kernel
    /// reaps a killed process group asynchronously).
    pub async fn assert_no_browsers(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.browsers();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Chromium processes leaked: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Chromium processes of runs, not of the warm pool: a run's own browser
    /// (`isolation = "process"`) has a `run-<id>` profile, the pool's have `run-pool…`.
    pub fn run_browsers(&self) -> Vec<u32> {
        self.browsers_where(|cmdline, pool| !cmdline.contains(pool))
    }

    /// Browsers under this test's profile root whose command line passes `keep(cmdline, pool)`,
    /// `pool` being the prefix of the pool's profile dirs.
    fn browsers_where(&self, keep: impl Fn(&str, &str) -> bool) -> Vec<u32> {
        let pool = self.profile_root().join("run-pool");
        let pool = pool.to_string_lossy().into_owned();
        self.browsers()
            .into_iter()
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                keep(&String::from_utf8_lossy(&cmdline), &pool)
            })
            .collect()
    }

    /// Fails unless every run's browser is gone and no pooled context is still leased
    /// (the pool's warm processes may stay: they end at shutdown).
    pub async fn assert_no_run_browsers(&self, handle: &pilothouse::OrchestratorHandle) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.run_browsers();
            let leased = handle
                .stats()
                .await
                .ok()
                .and_then(|s| s.pool)
                .map_or(0, |p| p.leased);
            if left.is_empty() && leased == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "run browsers left: {left:?}, contexts leased: {leased}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The warm pool's main Chromium processes (not their helpers).
    pub fn pool_main_processes(&self) -> Vec<u32> {
        self.browsers_where(|cmdline, pool| cmdline.contains(pool) && !cmdline.contains("--type="))
    }

    pub fn status_json(&self, run_id: pilothouse::RunId) -> serde_json::Value {
        let path = self.runs_dir().join(run_id.to_string()).join("status.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    pub fn events_jsonl(&self, run_id: pilothouse::RunId) -> Vec<serde_json::Value> {
        let path = self
            .runs_dir()
            .join(run_id.to_string())
            .join("events.jsonl");
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Pids of live (non-zombie) processes with an argument containing `needle`.
pub fn processes_with_arg(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.is_empty() {
            continue; // zombie or kernel thread
        }
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'));
            if !zombie {
                pids.push(pid);
            }
        }
    }
    pids
}

/// A request from JSON with `{base}` replaced by the site's base URL.
pub fn request(json: &str, site: &Site) -> RunRequest {
    let text = json.replace("{base}", &format!("http://{}", site.addr));
    RunRequest::from_json(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The demo form: typing a name and clicking submit shows a greeting computed in JavaScript
/// after a short delay.
pub const FORM_PAGE: &str = r#"<!doctype html><html><head><title>Form</title></head><body>
<form id="f" onsubmit="return false">
  <label>Name <input id="name" name="name"></label>
  <button id="submit" type="button">Greet</button>
</form>
<div id="out" style="display:none"></div>
<script>
document.getElementById('submit').addEventListener('click', () => {
  const name = document.getElementById('name').value;
  setTimeout(() => {
    const out = document.getElementById('out');
    out.textContent = 'Hello, ' + name + '! ' + [3, 4, 5].map(x => x * x).reduce((a, b) => a + b);
    out.style.display = 'block';
    document.title = 'Greeted ' + name;
  }, 150);
});
</script></body></html>"#;
