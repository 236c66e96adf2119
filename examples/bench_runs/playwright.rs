//! System (c): the workload through Playwright (Node, `playwright-core` from npm) driving the
//! same Chromium binary. The Node side is `playwright.mjs`; this module spawns it and reads its
//! timings as JSON lines.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::{CHROMIUM, Measured, RunSample};

/// The Node script, written next to the benchmark's temp files at run time.
const SCRIPT: &str = include_str!("playwright.mjs");

/// Where `scripts/bench.sh` installs `playwright-core` unless `--playwright-dir` says otherwise.
pub(crate) fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-node")
}

/// The installed `playwright-core` version, or why Playwright cannot run.
pub(crate) fn installed_version(dir: &Path) -> anyhow::Result<String> {
    let manifest = dir.join("node_modules/playwright-core/package.json");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "{} not found: run scripts/bench.sh, or `npm install --prefix {} playwright-core`",
            manifest.display(),
            dir.display()
        )
    })?;
    let parsed: Value = serde_json::from_str(&text)?;
    Ok(parsed["version"].as_str().unwrap_or("?").to_owned())
}

/// Runs one warm-up and `runs` measured runs at `concurrency` in one Node process. Chromium's
/// temp profile lands under `root` (through `TMPDIR`), where the leak check looks. With
/// `sample_pss`, that Chromium's PSS is sampled from the script's `loop` line (the warm-up
/// done) to its `done` line.
pub(crate) async fn measure(
    dir: &Path,
    root: &Path,
    base: &str,
    concurrency: usize,
    runs: usize,
    sample_pss: bool,
) -> anyhow::Result<Measured> {
    let tmp = root.join("playwright");
    let mut child = start_node(dir, &tmp, base, concurrency, runs)?;
    let stdout = child.stdout.take().context("node: no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut samples = Vec::with_capacity(runs);
    let mut wall = None;
    let mut sampler = None;
    let mut pss = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            eprintln!("playwright.mjs: {line}");
            continue;
        };
        match message["kind"].as_str() {
            Some("run") if message["warmup"].as_bool() == Some(true) => {
                bail!("Playwright warm-up run failed: {}", message["error"])
            }
            Some("run") => samples.push(sample(&message)),
            Some("loop") if sample_pss => {
                sampler = Some(crate::pss::PssSampler::start(tmp.clone()));
            }
            Some("done") => {
                wall = message["wall_ms"]
                    .as_f64()
                    .map(|ms| Duration::from_secs_f64(ms / 1000.0));
                if let Some(sampler) = sampler.take() {
                    pss = sampler.finish().await;
                }
            }
            _ => {}
        }
    }
    let status = child.wait().await?;
    let wall = wall.with_context(|| format!("playwright.mjs ended ({status}) before `done`"))?;
    Ok(Measured {
        wall,
        samples,
        pss,
        idle_pss: None,
    })
}

/// Writes the script under `tmp` and starts it in Node against `playwright-core` in `dir`, with
/// `TMPDIR` at `tmp`; its stdout is piped.
fn start_node(
    dir: &Path,
    tmp: &Path,
    base: &str,
    concurrency: usize,
    runs: usize,
) -> anyhow::Result<Child> {
    // Node's createRequire needs an absolute path.
    let dir = dir
        .canonicalize()
        .with_context(|| format!("--playwright-dir {}", dir.display()))?;
    std::fs::create_dir_all(tmp)?;
    let script = tmp.join("playwright.mjs");
    std::fs::write(&script, SCRIPT)?;
    tokio::process::Command::new("node")
        .arg(&script)
        .arg(&dir)
        .arg(CHROMIUM)
        .arg(base)
        .arg(concurrency.to_string())
        .arg(runs.to_string())
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start `node` (is Node.js installed?)")
}

fn sample(message: &Value) -> anyhow::Result<RunSample> {
    if message["ok"].as_bool() != Some(true) {
        bail!("{}", message["error"].as_str().unwrap_or("run failed"));
    }
    let steps = message["steps"]
        .as_array()
        .context("a run line without steps")?
        .iter()
        .map(|ms| ms.as_f64().unwrap_or(f64::NAN))
        .collect();
    Ok(RunSample {
        wall_ms: message["wall_ms"].as_f64().unwrap_or(f64::NAN),
        first_action_ms: message["first_action_ms"].as_f64().unwrap_or(f64::NAN),
        steps,
        lease_ms: None,
        admit_ms: None,
    })
}
