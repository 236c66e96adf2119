//! The leak check: live processes whose command line names the benchmark's temp dir (every
//! Chromium profile the benchmark creates lives under it), read from `/proc`.

use std::path::Path;
use std::time::{Duration, Instant};

/// Polls until no live process carries `root` in its arguments, or `window` passes; returns
/// the pids still alive.
pub(crate) async fn wait_for_no_browsers(root: &Path, window: Duration) -> Vec<u32> {
    let deadline = Instant::now() + window;
    loop {
        let left = processes_with_arg(root);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pids of live (non-zombie) processes with an argument containing `needle`.
fn processes_with_arg(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.is_empty() || !String::from_utf8_lossy(&cmdline).contains(&needle) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        if !zombie {
            pids.push(pid);
        }
    }
    pids
}
