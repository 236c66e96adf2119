//! The benchmark's command line: which systems, how many runs per cell, which concurrency
//! levels, and the modes that replace the comparison (`--overhead`, the memory child).

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::System;
use crate::playwright;

const USAGE: &str = "usage: bench_runs [--runs N] [--runs-c4 N] [--runs-c8 N] [--levels 1,4,8] \
                     [--systems a,b,c,d,d-rec,d-proc,d-cold] [--instant-runs N] \
                     [--playwright-dir DIR] [--overhead M]";

/// Reads the options from the process's arguments; unknown ones are an error naming the flag.
pub(crate) fn parse() -> anyhow::Result<Options> {
    let mut options = Options {
        runs_c1: 10,
        runs_c4: 20,
        runs_c8: 24,
        levels: vec![1, 4, 8],
        systems: System::ALL.to_vec(),
        instant_runs: 10_000,
        playwright_dir: playwright::default_dir(),
        overhead: None,
        memory_child: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--runs" => options.runs_c1 = count("--runs", &value("--runs")?, 2)?,
            "--runs-c4" => options.runs_c4 = count("--runs-c4", &value("--runs-c4")?, 2)?,
            "--runs-c8" => options.runs_c8 = count("--runs-c8", &value("--runs-c8")?, 2)?,
            "--instant-runs" => {
                options.instant_runs = count("--instant-runs", &value("--instant-runs")?, 0)?
            }
            "--overhead" => options.overhead = Some(count("--overhead", &value("--overhead")?, 2)?),
            "--playwright-dir" => options.playwright_dir = value("--playwright-dir")?.into(),
            "--levels" => {
                options.levels = value("--levels")?
                    .split(',')
                    .map(|c| match c.trim() {
                        "1" => Ok(1),
                        "4" => Ok(4),
                        "8" => Ok(8),
                        other => bail!("--levels: `{other}` is not one of 1, 4, 8"),
                    })
                    .collect::<anyhow::Result<_>>()?;
                options.levels.sort_unstable();
                options.levels.dedup();
            }
            "--systems" => {
                options.systems = value("--systems")?
                    .split(',')
                    .map(System::parse)
                    .collect::<anyhow::Result<_>>()?
            }
            // Internal: the memory measurement runs in a child process of its own.
            "--memory-child" => {
                options.memory_child = Some(count("--memory-child", &value("--memory-child")?, 0)?)
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` ({USAGE})"),
        }
    }
    Ok(options)
}

fn count(name: &str, value: &str, min: usize) -> anyhow::Result<usize> {
    let n: usize = value
        .parse()
        .with_context(|| format!("{name}: `{value}` is not a number"))?;
    anyhow::ensure!(n >= min, "{name}: must be at least {min}");
    Ok(n)
}

impl Options {
    /// Measured runs at `concurrency` (one uncounted warm-up comes on top).
    pub(crate) fn runs_at(&self, concurrency: usize) -> usize {
        match concurrency {
            1 => self.runs_c1,
            4 => self.runs_c4,
            _ => self.runs_c8,
        }
    }

    /// The counts, as the output states them.
    pub(crate) fn describe_counts(&self) -> String {
        let cells: Vec<String> = self
            .levels
            .iter()
            .map(|&c| format!("c={c}: {} runs", self.runs_at(c)))
            .collect();
        format!(
            "{} per system (+1 uncounted warm-up each); instant-driver runs: {}",
            cells.join(", "),
            self.instant_runs
        )
    }
}

/// What the command line asked for.
pub(crate) struct Options {
    /// Measured runs at concurrency 1, 4 and 8 (flags `--runs`, `--runs-c4`, `--runs-c8`).
    pub(crate) runs_c1: usize,
    pub(crate) runs_c4: usize,
    pub(crate) runs_c8: usize,
    /// Concurrency levels to measure, ascending.
    pub(crate) levels: Vec<usize>,
    /// Which systems to measure, in table order.
    pub(crate) systems: Vec<System>,
    /// Runs of the instant driver for the orchestrator's memory per run (0: skip).
    pub(crate) instant_runs: usize,
    /// Where `playwright-core` is installed (`node_modules` inside).
    pub(crate) playwright_dir: PathBuf,
    /// Run the per-action `evaluate` overhead breakdown with this many calls instead.
    pub(crate) overhead: Option<usize>,
    /// This process is the memory measurement's child: this many instant runs, then exit.
    pub(crate) memory_child: Option<usize>,
}
