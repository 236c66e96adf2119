//! One test's directories (runs, browser profiles, recordings) in a temp dir, the config that
//! points an orchestrator at them, what the runs left there, and the checks that no Chromium
//! launched under them outlives the test.

use std::path::PathBuf;
use std::time::Duration;

use pilothouse::{Config, Orchestrator};

use super::eventually::eventually;
use super::procs;

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
        config.sessions.dir = self.sessions_dir();
        config
    }

    /// Where saved sessions go (never the working directory).
    pub fn sessions_dir(&self) -> PathBuf {
        self.dir.path().join("sessions")
    }

    /// The same directories as a TOML config file's text, with `top_level` keys (one per line)
    /// before the tables.
    pub fn config_toml(&self, top_level: &str) -> String {
        format!(
            "runs_dir = {:?}\nprofile_root = {:?}\n{top_level}[sessions]\ndir = {:?}\n\
             [recording]\nrecordings_dir = {:?}\n",
            self.runs_dir(),
            self.profile_root(),
            self.sessions_dir(),
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
        procs::processes_with_arg(&self.profile_root())
    }

    /// Fails unless every browser this test launched is gone (polled briefly: the kernel
    /// reaps a killed process group asynchronously).
    pub async fn assert_no_browsers(&self) {
        eventually(
            Duration::from_secs(5),
            "no Chromium process leaked",
            async || {
                let left = self.browsers();
                if left.is_empty() { Ok(()) } else { Err(left) }
            },
        )
        .await;
    }

    /// Chromium processes of runs, not of the warm pool: a run's own browser
    /// (`isolation = "process"`) has a `run-<id>` profile, the pool's have `run-pool…`.
    pub fn run_browsers(&self) -> Vec<u32> {
        self.browsers_where(|cmdline, pool| !cmdline.contains(pool))
    }

    /// The main process of a run's own Chromium (`isolation = "process"`), not a helper.
    pub fn run_main_browser(&self) -> u32 {
        self.run_browsers()
            .into_iter()
            .find(|&pid| procs::is_main_browser(pid))
            .expect("the run's main Chromium process")
    }

    /// Browsers under this test's profile root whose profile dir carries `owner_tag`
    /// (`-p<host pid>s`: the host that launched them).
    pub fn browsers_owned_by(&self, owner_tag: &str) -> Vec<u32> {
        self.browsers_where(|cmdline, _| cmdline.contains(owner_tag))
    }

    /// Browsers under this test's profile root whose command line passes `keep(cmdline, pool)`,
    /// `pool` being the prefix of the pool's profile dirs.
    fn browsers_where(&self, keep: impl Fn(&str, &str) -> bool) -> Vec<u32> {
        let pool = self.profile_root().join("run-pool");
        let pool = pool.to_string_lossy().into_owned();
        procs::processes_with_cmdline(&self.profile_root())
            .into_iter()
            .filter(|(_, cmdline)| keep(cmdline, &pool))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Fails unless every run's browser is gone and no pooled context is still leased
    /// (the pool's warm processes may stay: they end at shutdown).
    pub async fn assert_no_run_browsers(&self, handle: &pilothouse::OrchestratorHandle) {
        eventually(
            Duration::from_secs(5),
            "no run browser left and no context leased",
            async || {
                let left = self.run_browsers();
                let leased = handle
                    .stats()
                    .await
                    .ok()
                    .and_then(|s| s.pool)
                    .map_or(0, |p| p.leased);
                if left.is_empty() && leased == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "run browsers left: {left:?}, contexts leased: {leased}"
                    ))
                }
            },
        )
        .await;
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

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// Temp dirs for one test's runs and browser profiles.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}
