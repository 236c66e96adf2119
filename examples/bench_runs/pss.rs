//! Memory of a system's browsers while runs are in flight: the proportional set size (`Pss` of
//! `/proc/<pid>/smaps_rollup`, so pages Chromium's processes share are counted once) of every
//! Chromium process whose command line names the system's profile directory, and of all their
//! descendants (renderers, GPU and utility helpers). The same method for every system: bare
//! chromiumoxide, Playwright (its temp profile lives under the benchmark's dir) and Pilothouse
//! (its `profile_root`, warm pool included).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::CHROMIUM;

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
    let needle = profiles.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut roots = Vec::new();
    for pid in entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
    {
        if let Some(ppid) = parent(pid) {
            children.entry(ppid).or_default().push(pid);
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let mut args = cmdline.split(|&b| b == 0);
        // Chromium only: Playwright's `node` names the same directory (its script lives there).
        let is_chromium = args
            .next()
            .is_some_and(|argv0| argv0 == CHROMIUM.as_bytes());
        if is_chromium && String::from_utf8_lossy(&cmdline).contains(&needle) {
            roots.push(pid);
        }
    }
    let mut seen = HashSet::new();
    let mut stack = roots;
    while let Some(pid) = stack.pop() {
        if seen.insert(pid) {
            stack.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    seen.into_iter().map(pss_bytes).sum()
}

/// The parent pid, from `/proc/<pid>/stat` (the fields after the parenthesised name).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One process's PSS in bytes (0 when it is gone or unreadable).
fn pss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|rollup| {
            rollup
                .lines()
                .find_map(|line| line.strip_prefix("Pss:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A running sampler.
pub(crate) struct PssSampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}
