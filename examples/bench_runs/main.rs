//! Benchmark: issue 11's ten-step workload through bare chromiumoxide, Playwright and Pilothouse,
//! side by side in one invocation, on the same Chromium and pages served on 127.0.0.1.
//!
//! Run it with `scripts/bench.sh [FLAGS]` (installs `playwright-core` into `target/bench-node`
//! if missing, builds in release, runs this), or directly:
//!
//! ```text
//! cargo run --release --example bench_runs -- [--runs N] [--c8] [--systems a,b,c,d,d-rec]
//!     [--playwright-dir DIR] [--overhead M]
//! ```
//!
//! The workload (issue 11): goto → select → click that navigates → type → click → wait for an
//! element added 400 ms later → extract → evaluate → screenshot → goto. Systems:
//!
//! - (a) bare chromiumoxide, one browser, a fresh browser context per run (`bare.rs`);
//! - (b) bare chromiumoxide, a browser process per run (`bare.rs`);
//! - (c) Playwright (Node, `playwright-core`), one browser, a fresh context per run
//!   (`playwright.rs` + `playwright.mjs`), on the same Chromium binary;
//! - (d) Pilothouse today through its public handle, recording off, and (d-rec) recording on
//!   (`pilothouse.rs`).
//!
//! Every system runs the same closed loop: `c` clients, each starting its next run when the
//! previous one ends, after one uncounted warm-up run; N runs at concurrency 1, 2N at 4 (and 8
//! with `--c8`). A run's time is everything the host waits for: context or process creation,
//! the ten steps, and the close. The tables (`report.rs`) give runs/min, run p50/p95, time to
//! the first action, and per-action p50 against (a), as ratios; `--overhead M` instead runs the
//! per-action `evaluate` overhead breakdown (`overhead.rs`). It never asserts a timing: figures
//! depend on the machine and its load. At the end it checks that no Chromium it launched is
//! left (every profile lives under one `pilothouse-bench-*` temp dir).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod bare;
mod machine;
mod overhead;
mod pilothouse;
mod playwright;
mod procs;
mod report;
mod site;

/// Debian's Chromium binary, without the shell wrapper; every system drives this one.
pub(crate) const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// How long to wait for the last Chromium processes to be reaped before counting leftovers.
const LEAK_CHECK_WINDOW: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: bench_runs [--runs N] [--c8] [--systems a,b,c,d,d-rec] \
                     [--playwright-dir DIR] [--overhead M]";

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        runs: 6,
        c8: false,
        systems: System::ALL.to_vec(),
        playwright_dir: playwright::default_dir(),
        overhead: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        let number = |name: &str, value: String| -> anyhow::Result<usize> {
            let n: usize = value
                .parse()
                .with_context(|| format!("{name}: `{value}` is not a number"))?;
            anyhow::ensure!(n >= 2, "{name}: must be at least 2");
            Ok(n)
        };
        match arg.as_str() {
            "--runs" => options.runs = number("--runs", value("--runs")?)?,
            "--overhead" => options.overhead = Some(number("--overhead", value("--overhead")?)?),
            "--c8" => options.c8 = true,
            "--playwright-dir" => options.playwright_dir = value("--playwright-dir")?.into(),
            "--systems" => {
                options.systems = value("--systems")?
                    .split(',')
                    .map(System::parse)
                    .collect::<anyhow::Result<_>>()?
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

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    anyhow::ensure!(
        Path::new(CHROMIUM).is_file(),
        "Chromium not found at {CHROMIUM}"
    );
    let root = tempfile::Builder::new()
        .prefix("pilothouse-bench-")
        .tempdir()
        .context("cannot create the benchmark's temp dir")?;
    let addr = site::serve_site().await?;
    let base = format!("http://{addr}");

    let result = match options.overhead {
        Some(evals) => overhead::run(evals, &base, root.path()).await,
        None => compare(&options, &base, root.path()).await,
    };
    let left = procs::wait_for_no_browsers(root.path(), LEAK_CHECK_WINDOW).await;
    println!();
    println!(
        "Leftover Chromium processes with a profile under {}: {} (expected 0)",
        root.path().display(),
        left.len()
    );
    if !left.is_empty() {
        println!("  pids: {left:?}");
    }
    result
}

/// Measures every selected system at every level, interleaved per level, and prints the tables.
async fn compare(options: &Options, base: &str, root: &Path) -> anyhow::Result<()> {
    let mut systems = options.systems.clone();
    let playwright_version = if systems.contains(&System::Playwright) {
        match playwright::installed_version(&options.playwright_dir) {
            Ok(version) => Some(version),
            Err(e) => {
                println!("Playwright skipped: {e:#}");
                systems.retain(|s| *s != System::Playwright);
                None
            }
        }
    } else {
        None
    };
    let machine = machine::Machine::probe(root, playwright_version).await;
    machine.print(base);

    let mut levels = vec![(1, options.runs), (4, options.runs * 2)];
    if options.c8 {
        levels.push((8, options.runs * 2));
    }
    let mut results = Vec::new();
    for (concurrency, runs) in levels {
        for &system in &systems {
            eprintln!(
                "measuring {} at concurrency {concurrency}: {runs} runs (+1 warm-up) ...",
                system.label()
            );
            let measured = measure(system, concurrency, runs, options, base, root)
                .await
                .with_context(|| format!("{} at concurrency {concurrency}", system.label()))?;
            results.push(Level {
                system,
                concurrency,
                wall: measured.wall,
                samples: measured.samples,
            });
        }
    }
    report::print(&results, &systems);
    println!("\nload average after: {}", machine::load_average());
    Ok(())
}

async fn measure(
    system: System,
    concurrency: usize,
    runs: usize,
    options: &Options,
    base: &str,
    root: &Path,
) -> anyhow::Result<Measured> {
    match system {
        System::BareContext => {
            let profile = root.join(format!("bare-context-c{concurrency}"));
            let browser = bare::BareBrowser::launch(&profile).await?;
            let measured = async {
                bare::run_in_context(&browser, base)
                    .await
                    .context("warm-up run")?;
                anyhow::Ok(
                    closed_loop(concurrency, runs, || bare::run_in_context(&browser, base)).await,
                )
            }
            .await;
            browser.close().await;
            measured
        }
        System::BareProcess => {
            let next = AtomicUsize::new(0);
            let profile = |n: usize| root.join(format!("bare-process-c{concurrency}-{n}"));
            bare::run_in_process(profile(usize::MAX), base)
                .await
                .context("warm-up run")?;
            Ok(closed_loop(concurrency, runs, || {
                bare::run_in_process(profile(next.fetch_add(1, Ordering::Relaxed)), base)
            })
            .await)
        }
        System::Playwright => {
            playwright::measure(&options.playwright_dir, root, base, concurrency, runs).await
        }
        System::Pilothouse => pilothouse::measure(root, base, concurrency, runs, false).await,
        System::PilothouseRecording => {
            pilothouse::measure(root, base, concurrency, runs, true).await
        }
    }
}

/// `concurrency` clients run `run` back to back until `runs` have started; returns the wall
/// time and every run's outcome.
pub(crate) async fn closed_loop<F, Fut>(concurrency: usize, runs: usize, run: F) -> Measured
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<RunSample>>,
{
    let started_runs = AtomicUsize::new(0);
    let started = Instant::now();
    let clients = (0..concurrency).map(|_| async {
        let mut samples = Vec::new();
        while started_runs.fetch_add(1, Ordering::Relaxed) < runs {
            samples.push(run().await);
        }
        samples
    });
    let samples = futures::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    Measured {
        wall: started.elapsed(),
        samples,
    }
}

/// Milliseconds since `start`, with µs precision.
pub(crate) fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Data

struct Options {
    /// Runs at concurrency 1; concurrency 4 (and 8) get twice as many.
    runs: usize,
    /// Also measure concurrency 8.
    c8: bool,
    /// Which systems to measure, in table order.
    systems: Vec<System>,
    /// Where `playwright-core` is installed (`node_modules` inside).
    playwright_dir: PathBuf,
    /// Run the per-action `evaluate` overhead breakdown with this many calls instead.
    overhead: Option<usize>,
}

/// One way of running the workload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum System {
    BareContext,
    BareProcess,
    Playwright,
    Pilothouse,
    PilothouseRecording,
}

impl System {
    const ALL: [System; 5] = [
        System::BareContext,
        System::Playwright,
        System::BareProcess,
        System::Pilothouse,
        System::PilothouseRecording,
    ];

    fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name.trim() {
            "a" => System::BareContext,
            "b" => System::BareProcess,
            "c" => System::Playwright,
            "d" => System::Pilothouse,
            "d-rec" => System::PilothouseRecording,
            other => bail!("--systems: unknown system `{other}`; use a, b, c, d or d-rec"),
        })
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            System::BareContext => "(a) bare chromiumoxide, one browser, a context per run",
            System::BareProcess => "(b) bare chromiumoxide, a browser process per run",
            System::Playwright => "(c) Playwright (Node), one browser, a context per run",
            System::Pilothouse => "(d) Pilothouse today, recording off",
            System::PilothouseRecording => "(d-rec) Pilothouse today, recording on",
        }
    }
}

/// What one finished run reported; times in ms.
pub(crate) struct RunSample {
    /// Everything the host waited for, from the first call to the end of the close.
    pub(crate) wall_ms: f64,
    /// From the first call (submit, for Pilothouse) to the first action's start.
    pub(crate) first_action_ms: f64,
    /// Each step's duration, in workload order.
    pub(crate) steps: Vec<f64>,
}

/// The outcome of one measured level of one system.
pub(crate) struct Measured {
    pub(crate) wall: Duration,
    pub(crate) samples: Vec<anyhow::Result<RunSample>>,
}

/// One system at one concurrency.
pub(crate) struct Level {
    pub(crate) system: System,
    pub(crate) concurrency: usize,
    pub(crate) wall: Duration,
    pub(crate) samples: Vec<anyhow::Result<RunSample>>,
}
