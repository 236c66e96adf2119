//! `pilothouse eval` as a user runs it: the binary, a suite, a config, a report dir; its exit
//! code and stdout (both streams are printed for a failing test to show).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Runs `pilothouse eval SUITE --concurrency 2 --out OUT --config CONFIG` plus `extra`, with
/// `key` (a variable and its value) in the environment, bounded by `limit`.
pub async fn run_eval(
    suite: &Path,
    extra: &[&str],
    out: &Path,
    config: &Path,
    key: (&str, &str),
    limit: Duration,
) -> (Option<i32>, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_pilothouse"))
        .arg("eval")
        .arg(suite)
        .args(extra)
        .args(["--concurrency", "2", "--out"])
        .arg(out)
        .arg("--config")
        .arg(config)
        .env(key.0, key.1)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, run)
        .await
        .expect("pilothouse eval finished in time")
        .expect("pilothouse eval started");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!(
        "--- stdout\n{stdout}--- stderr\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), stdout)
}
