//! One call sets up what a behaviour test needs: the test's own site, its temp directories and
//! an orchestrator on them, `Harness::new(pages).config(|c| …).start().await`. Requests are
//! written as JSON with `{base}` for the site's base URL; `finish` shuts down and checks that no
//! Chromium outlived the test.

use std::time::Duration;

use futures::{Stream, StreamExt};
use pilothouse::{
    Config, EventKind, Orchestrator, OrchestratorHandle, RunEvent, RunId, RunRequest, RunStatus,
};

use super::{Page, Site, TestEnv};

/// How long `finish` gives runs still in flight at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Harness {
    /// A harness serving `pages` on 127.0.0.1 with the default test config; call `start`.
    // A builder entry point: `Harness::new(pages).config(..).start()` reads as what it builds.
    #[allow(clippy::new_ret_no_self)]
    pub fn new<'a>(pages: Vec<(&str, Page)>) -> HarnessBuilder<'a> {
        HarnessBuilder {
            pages: pages
                .into_iter()
                .map(|(path, page)| (path.to_owned(), page))
                .collect(),
            configure: Vec::new(),
            env: None,
        }
    }

    /// The run request in `json`, `{base}` replaced by the site's base URL.
    pub fn request(&self, json: &str) -> RunRequest {
        super::request(json, &self.site)
    }

    /// Submits the request in `json` (see `request`); the run's id. Fails the test if refused.
    pub async fn submit_json(&self, json: &str) -> RunId {
        self.handle.submit(self.request(json)).await.unwrap()
    }

    /// The run's terminal status.
    pub async fn wait(&self, run_id: RunId) -> RunStatus {
        self.handle.wait(run_id).await.unwrap()
    }

    /// Submits the request in `json` and waits for it to end; its id and terminal status.
    pub async fn run_json(&self, json: &str) -> (RunId, RunStatus) {
        let run_id = self.submit_json(json).await;
        (run_id, self.wait(run_id).await)
    }

    /// Subscribes to the run's events from the start and returns once step `step`'s action event
    /// has passed (the next step is then dispatched); the rest of the stream. Fails the test if the
    /// run ends first.
    pub async fn events_past_step(
        &self,
        run_id: RunId,
        step: u32,
    ) -> impl Stream<Item = RunEvent> + Send + Unpin + 'static {
        let mut events = self.handle.events(run_id, 0).await.unwrap();
        while let Some(event) = events.next().await {
            if matches!(event.kind, EventKind::Action { step: s, .. } if s == step) {
                return events;
            }
        }
        panic!("run {run_id} ended before step {step}");
    }

    /// Returns once step `step`'s action event has passed (see `events_past_step`).
    pub async fn reach_step(&self, run_id: RunId, step: u32) {
        drop(self.events_past_step(run_id, step).await);
    }

    /// Shuts the orchestrator down (`SHUTDOWN_GRACE`) and starts a new one with the same config
    /// on the same directories, as a host restarting would.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// As `restart`, with `change` made to the config first (the host's operator edited it).
    pub async fn restart_with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        self.orchestrator.shutdown(SHUTDOWN_GRACE).await;
        change(&mut self.config);
        let orchestrator = self.env.start_with(self.config.clone()).await;
        let handle = orchestrator.handle();
        Self {
            orchestrator,
            handle,
            ..self
        }
    }

    /// A URL on the test's site.
    pub fn url(&self, path: &str) -> String {
        self.site.url(path)
    }

    /// Shuts the orchestrator down (`SHUTDOWN_GRACE`) and fails unless every browser the test
    /// launched is gone; the directories, for checks of what the runs left.
    pub async fn finish(self) -> TestEnv {
        self.orchestrator.shutdown(SHUTDOWN_GRACE).await;
        self.env.assert_no_browsers().await;
        self.env
    }
}

impl<'a> HarnessBuilder<'a> {
    /// Changes the config before the orchestrator starts (the env's directories are set).
    pub fn config(mut self, change: impl FnOnce(&mut Config) + 'a) -> Self {
        self.configure.push(Box::new(change));
        self
    }

    /// Starts in `env` (e.g. one a remote browser's profile already lives in) instead of new
    /// temp dirs.
    pub fn in_env(mut self, env: TestEnv) -> Self {
        self.env = Some(env);
        self
    }

    /// Serves the pages, makes the temp dirs and starts an orchestrator on them.
    pub async fn start(self) -> Harness {
        let pages = self
            .pages
            .iter()
            .map(|(p, page)| (p.as_str(), page.clone()));
        let site = Site::serve(pages.collect()).await;
        let env = self.env.unwrap_or_default();
        let mut config = env.config();
        for change in self.configure {
            change(&mut config);
        }
        let orchestrator = env.start_with(config.clone()).await;
        let handle = orchestrator.handle();
        Harness {
            site,
            env,
            config,
            orchestrator,
            handle,
        }
    }
}

/// A test's site, directories and running orchestrator.
pub struct Harness {
    pub site: Site,
    pub env: TestEnv,
    /// The config the orchestrator started with.
    pub config: Config,
    pub orchestrator: Orchestrator,
    /// The orchestrator's handle, for everything the helpers do not cover.
    pub handle: OrchestratorHandle,
}

/// One `HarnessBuilder::config` change, applied in order before the start.
type ConfigChange<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// What `Harness::new` returns: set the config, then `start`.
pub struct HarnessBuilder<'a> {
    pages: Vec<(String, Page)>,
    configure: Vec<ConfigChange<'a>>,
    env: Option<TestEnv>,
}
