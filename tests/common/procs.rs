//! Everything that reads `/proc`, once: live processes by an argument (the leak checks match a
//! test's or the benchmark's profile directory, never a process name), their command lines and
//! owner tags, and the proportional set size of a Chromium process tree. Shared by the tests
//! (`tests/common`) and the benchmarks (`examples/bench_runs` and `examples/bench_service`
//! include this file with `#[path]`), so all count processes and memory the same way. Blocking: callers off a
//! runtime's hot path run it in `spawn_blocking`.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Pids of live (non-zombie) processes, other than this one, with an argument containing
/// `needle`.
pub(crate) fn processes_with_arg(needle: &Path) -> Vec<u32> {
    processes_with_cmdline(needle)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// [`processes_with_arg`] with each process's command line as it was read when matched, so a
/// caller that filters further never re-reads a process that exited meanwhile (its command line
/// would then read as empty and match any "does not contain" test).
pub(crate) fn processes_with_cmdline(needle: &Path) -> Vec<(u32, String)> {
    let needle = needle.to_string_lossy().into_owned();
    let own = std::process::id();
    pids()
        .filter(|&pid| pid != own)
        .filter_map(|pid| {
            let cmdline = cmdline(pid);
            // Empty: zombie, kernel thread, or gone since the listing.
            (!cmdline.is_empty() && cmdline.contains(&needle)).then_some((pid, cmdline))
        })
        .filter(|&(pid, _)| !is_zombie(pid))
        .collect()
}

/// The process's command line, its arguments joined by NULs (empty when it is gone).
pub(crate) fn cmdline(pid: u32) -> String {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether the process's command line contains `text`: an owner tag (`-p<pid>s` in a profile
/// dir's name), the pool's profile prefix, or a flag.
pub(crate) fn cmdline_contains(pid: u32, text: &str) -> bool {
    cmdline(pid).contains(text)
}

/// Whether this is a browser's main process, not one of its helpers (renderers, GPU and utility
/// processes carry `--type=`).
pub(crate) fn is_main_browser(pid: u32) -> bool {
    !cmdline_contains(pid, "--type=")
}

/// The summed PSS, in bytes, of the processes whose argv0 is `chromium` and whose command line
/// names `profiles`, and of all their descendants (pages a tree shares are counted once).
pub(crate) fn chromium_pss_bytes(profiles: &Path, chromium: &str) -> u64 {
    let needle = profiles.to_string_lossy().into_owned();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut roots = Vec::new();
    for pid in pids() {
        if let Some(ppid) = parent(pid) {
            children.entry(ppid).or_default().push(pid);
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        // Chromium only: e.g. Playwright's `node` names the same directory (its script lives there).
        let is_chromium = cmdline
            .split(|&b| b == 0)
            .next()
            .is_some_and(|argv0| argv0 == chromium.as_bytes());
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
pub(crate) fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid)?.split_whitespace().nth(1)?.parse().ok()
}

/// One process's PSS in bytes, from `/proc/<pid>/smaps_rollup` (0 when it is gone or
/// unreadable).
pub(crate) fn pss_bytes(pid: u32) -> u64 {
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

/// This process's open file descriptors.
pub(crate) fn own_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// This process's resident set size in bytes (`VmRSS:` of `/proc/self/status`); `None` when it
/// cannot be read.
pub(crate) fn own_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
    Some(kb * 1024)
}

/// Every pid in `/proc` (empty when `/proc` cannot be read).
fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

/// Whether the process is a zombie (state `Z` after the parenthesised name in its stat).
fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|s| s.trim_start().starts_with('Z'))
}

/// `/proc/<pid>/stat` after the parenthesised command name (which may contain spaces).
fn stat_fields(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next().map(str::to_owned)
}
