//! Memory of a system's browsers while runs are in flight: the proportional set size (`Pss` of
//! `/proc/<pid>/smaps_rollup`, so pages Chromium's processes share are counted once) of every
//! Chromium process whose command line names the system's profile directory, and of all their
//! descendants (renderers, GPU and utility helpers). The same method for every system: bare
//! chromiumoxide, Playwright (its temp profile lives under the benchmark's dir) and Pilothouse
//! (its `profile_root`, warm pool included).

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::{CHROMIUM, procs};

/// How often a sampler reads `/proc` while a level runs.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

impl PssSampler {
    /// Starts sampling the Chromium processes whose arguments contain `profiles`, every
    /// `SAMPLE_INTERVAL`, off the runtime.
    pub(crate) fn start(profiles: PathBuf) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let profiles = profiles.clone();
                let bytes = tokio::task::spawn_blocking(move || chromium_pss_bytes(&profiles))
                    .await
                    .unwrap_or(0);
                if bytes > 0 {
                    samples.push(bytes);
                }
            }
            samples
        });
        Self { stop, task }
    }

    /// Stops sampling; returns every non-empty sample, in bytes.
    pub(crate) async fn finish(self) -> Vec<u64> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

/// One reading before any run: what the system's idle browsers hold (`None` when it has none
/// up). The `/proc` scan runs off the runtime.
pub(crate) async fn idle(profiles: &std::path::Path) -> Option<u64> {
    let profiles = profiles.to_path_buf();
    tokio::task::spawn_blocking(move || chromium_pss_bytes(&profiles))
        .await
        .ok()
        .filter(|&bytes| bytes > 0)
}

/// The summed PSS of Chromium processes naming `profiles` in their arguments, and of their
/// descendants. Blocking (reads `/proc`).
fn chromium_pss_bytes(profiles: &std::path::Path) -> u64 {
    procs::chromium_pss_bytes(profiles, CHROMIUM)
}

/// A running sampler.
pub(crate) struct PssSampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}
