//! Chromium processes left behind by a previous process of ours, and how we find them.
//!
//! Every browser we launch gets `--user-data-dir=<profile_root>/run-<run_id>-<owner>`, where
//! `<owner>` is `p<pid>s<start>`: the launching process's pid and its start time in clock ticks
//! since boot (field 22 of `/proc/<pid>/stat`). A process whose profile dir has our prefix and
//! whose owner is no longer alive (no such pid, or a pid reused by a process that started at
//! another time) is an orphan. Browsers of another live orchestrator sharing the profile root are
//! left alone; nothing is ever matched by its name.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgid};

use crate::run::RunId;

/// How long the sweep waits for killed processes to be gone.
const KILL_WAIT: Duration = Duration::from_secs(3);

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SweepReport {
    /// Pids of the orphaned processes killed (each with its process group when it led one).
    pub(crate) killed: Vec<i32>,
    /// Stale profile directories removed.
    pub(crate) removed_profiles: usize,
}

/// The profile dir for one run's browser, tagged with this process as its owner.
pub(crate) fn profile_dir(root: &Path, run_id: RunId) -> PathBuf {
    root.join(format!("run-{run_id}-{}", own_tag()))
}

/// The profile dir for one of the pool's warm browsers, tagged like a run's.
pub(crate) fn pool_profile_dir(root: &Path) -> PathBuf {
    root.join(format!(
        "run-pool{}-{}",
        uuid::Uuid::now_v7().simple(),
        own_tag()
    ))
}

fn own_tag() -> String {
    let pid = std::process::id() as i32;
    format!("p{pid}s{}", start_time(pid).unwrap_or(0))
}

/// The fields of `/proc/<pid>/stat` after the command name (field 3, the state, comes first).
/// The name (field 2) may contain spaces and parentheses: the split is after its last ')'.
pub(super) fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Start time of a process in clock ticks since boot (field 22).
fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// True while the process is running (a zombie has exited and counts as gone).
fn is_running(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| !matches!(f.first().map(String::as_str), Some("Z" | "X")))
}

/// The owner `(pid, start)` encoded in a profile dir name, when it is one of ours.
fn owner_of(dir_name: &str) -> Option<(i32, u64)> {
    let tag = dir_name.strip_prefix("run-")?.rsplit('-').next()?;
    let (pid, start) = tag.strip_prefix('p')?.split_once('s')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
}

fn owner_alive((pid, start): (i32, u64)) -> bool {
    is_running(pid) && start_time(pid) == Some(start)
}

/// The profile dir name a process was started with, when it lies directly under `root`.
fn profile_of(pid: i32, root: &Path) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let prefix = format!("--user-data-dir={}/", root.display());
    cmdline.split(|&b| b == 0).find_map(|arg| {
        let arg = std::str::from_utf8(arg).ok()?;
        let name = arg.strip_prefix(&prefix)?;
        (!name.contains('/')).then(|| name.to_owned())
    })
}

/// Kills every orphaned browser process under `root` and removes stale profile dirs. Blocking.
pub(crate) fn sweep(root: &Path) -> SweepReport {
    let mut report = SweepReport::default();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return report;
    };
    let me = std::process::id() as i32;
    let pids: Vec<i32> = procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&pid| pid != me)
        .collect();
    for pid in pids {
        let Some(name) = profile_of(pid, root) else {
            continue;
        };
        let Some(owner) = owner_of(&name) else {
            continue;
        };
        if owner_alive(owner) || !is_running(pid) {
            continue;
        }
        // Our browsers lead their own process group; kill the group when this is its leader.
        let target = Pid::from_raw(pid);
        let result = match getpgid(Some(target)) {
            Ok(pgid) if pgid == target => killpg(pgid, Signal::SIGKILL),
            _ => kill(target, Signal::SIGKILL),
        };
        if result.is_ok() {
            tracing::warn!(pid, profile = %name, "killed an orphaned browser of a previous run");
            report.killed.push(pid);
        }
    }
    let deadline = Instant::now() + KILL_WAIT;
    while report.killed.iter().any(|&pid| is_running(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    report.removed_profiles = remove_stale_profiles(root);
    report
}

fn remove_stale_profiles(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(owner_of) else {
            continue;
        };
        if !owner_alive(owner) {
            super::process::remove_profile(&entry.path());
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_dirs_name_a_live_owner_which_is_us() {
        let dir = profile_dir(Path::new("/tmp/x"), RunId::new());
        let name = dir.file_name().unwrap().to_str().unwrap();
        let owner = owner_of(name).expect("owner tag parses");
        assert_eq!(owner.0, std::process::id() as i32);
        assert!(owner_alive(owner));
        // The same pid with another start time is a different (dead) process.
        assert!(!owner_alive((owner.0, owner.1 + 1)));
        assert_eq!(owner_of("run-abc"), None);
        assert_eq!(owner_of("something-else"), None);
    }

    #[test]
    fn stale_profiles_of_dead_owners_are_removed_and_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let live = profile_dir(root.path(), RunId::new());
        let dead = root
            .path()
            .join(format!("run-{}-p999999999s1", RunId::new()));
        let foreign = root.path().join("not-ours");
        for d in [&live, &dead, &foreign] {
            std::fs::create_dir_all(d).unwrap();
        }
        let report = sweep(root.path());
        assert!(report.killed.is_empty());
        assert_eq!(report.removed_profiles, 1);
        assert!(live.exists() && foreign.exists() && !dead.exists());
    }
}
