//! How much memory a pooled Chromium uses: the proportional set size (`Pss` of
//! `/proc/<pid>/smaps_rollup`) of every process in its process group, so memory shared between
//! the browser's helpers is counted once. Blocking: call it off the runtime.

use crate::chromium::orphans::stat_fields;

/// The summed PSS in bytes of every process whose process group is `pgid`.
pub(crate) fn group_pss_bytes(pgid: i32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            // Fields after the name: state, ppid, pgrp.
            stat_fields(pid)
                .and_then(|f| f.get(2)?.parse::<i32>().ok())
                .is_some_and(|group| group == pgid)
        })
        .map(pss_bytes)
        .sum()
}

/// One process's PSS in bytes (0 when it is gone or unreadable).
fn pss_bytes(pid: i32) -> u64 {
    let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
        return 0;
    };
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn our_own_group_uses_some_memory() {
        let pgid = nix::unistd::getpgrp().as_raw();
        assert!(super::group_pss_bytes(pgid) > 0);
        assert_eq!(super::group_pss_bytes(i32::MAX), 0);
    }
}
