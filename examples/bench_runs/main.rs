//! Benchmark: issue 11's ten-step workload through bare chromiumoxide, Playwright and Pilothouse
//! (warm pool or a process per run, cold or warm, recording off or on), side by side in one
//! invocation, on the same Chromium and pages served on 127.0.0.1.
//!
//! Run it with `scripts/bench.sh [FLAGS]` (installs `playwright-core` into `target/bench-node`
//! if missing, builds in release, runs this), or directly:
//!
//! ```text
//! cargo run --release --example bench_runs -- [--runs N] [--runs-c4 N] [--runs-c8 N]
//!     [--levels 1,4,8] [--systems a,b,c,d,d-rec,d-proc,d-cold] [--instant-runs N]
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
//! - (d) Pilothouse through its public handle, `isolation = "context"` from a warm pool, and the
//!   same with recording on (d-rec), with `isolation = "process"` (d-proc), and with a cold pool
//!   (`spare_contexts = 0`: each run's context is made on lease, d-cold) (`pilothouse.rs`).
//!
//! Every system runs the same closed loop: `c` clients, each starting its next run when the
//! previous one ends, after one uncounted warm-up run. A run's time is everything the host
//! waits for: context or process creation, the ten steps, and the close. While the
//! concurrency-4 runs are in flight, the PSS of the system's Chromium processes is sampled
//! (`pss.rs`). Then the orchestrator's memory per finished run is measured with an instant
//! driver in a child process (`memory.rs`). The tables (`report.rs`) give runs/min, run
//! p50/p95, submit → first action, per-action p50 against (a), PSS per concurrent run and
//! memory per run, and `goals.rs` holds them against issue 11's goals. `--overhead M` instead
//! runs the per-action `evaluate` overhead breakdown (`overhead.rs`). It never asserts a timing:
//! figures depend on the machine and its load. At the end it checks that no Chromium it
//! launched is left (every profile lives under one `pilothouse-bench-*` temp dir).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod bare;
mod goals;
mod machine;
mod memory;
mod options;
mod overhead;
mod pilothouse;
mod playwright;
// The `/proc` scanner the tests use, so both count processes and memory the same way.
#[path = "../../tests/common/procs.rs"]
mod procs;
mod pss;
mod report;
mod site;

use options::Options;

/// Debian's Chromium binary, without the shell wrapper; every system drives this one.
pub(crate) const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// How long to wait for the last Chromium processes to be reaped before counting leftovers.
const LEAK_CHECK_WINDOW: Duration = Duration::from_secs(5);

/// The concurrency at which browser memory is sampled.
const PSS_CONCURRENCY: usize = 4;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let options = options::parse()?;
    if let Some(runs) = options.memory_child {
        return memory::child(runs).await;
    }
    anyhow::ensure!(
        Path::new(CHROMIUM).is_file(),
        "Chromium not found at {CHROMIUM}"
    );
    let root = tempfile::Builder::new()
        .prefix("pilothouse-bench-")
        .tempdir()
        .context("cannot create the benchmark's temp dir")?;
    // One spelling of the root: Pilothouse canonicalizes its profile root, and the PSS
    // sampler and leak check match processes by it.
    let root_path = root.path().canonicalize()?;
    let addr = site::serve_site().await?;
    let base = format!("http://{addr}");

    let result = match options.overhead {
        Some(evals) => overhead::run(evals, &base, &root_path).await,
        None => compare(&options, &base, &root_path).await,
    };
    let left = wait_for_no_browsers(&root_path, LEAK_CHECK_WINDOW).await;
    println!();
    println!(
        "Leftover Chromium processes with a profile under {}: {} (expected 0)",
        root_path.display(),
        left.len()
    );
    if !left.is_empty() {
        println!("  pids: {left:?}");
    }
    result
}

/// The leak check: polls until no live process names `root` (every Chromium profile the
/// benchmark creates lives under it) in its arguments, or `window` passes; the pids still alive.
async fn wait_for_no_browsers(root: &Path, window: Duration) -> Vec<u32> {
    let deadline = Instant::now() + window;
    loop {
        let root = root.to_path_buf();
        let left = tokio::task::spawn_blocking(move || procs::processes_with_arg(&root))
            .await
            .unwrap_or_default();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Measures every selected system at every level, interleaved per level, then the memory per
/// run, and prints the tables and the goals.
async fn compare(options: &Options, base: &str, root: &Path) -> anyhow::Result<()> {
    let mut systems = options.systems.clone();
    let playwright_version = playwright_or_skip(options, &mut systems);
    let machine = machine::Machine::probe(root, playwright_version).await;
    machine.print(base);
    println!("counts: {}", options.describe_counts());
    let started = Instant::now();

    let mut results = Vec::new();
    for &concurrency in &options.levels {
        let runs = options.runs_at(concurrency);
        for &system in &systems {
            eprintln!(
                "measuring {} at concurrency {concurrency}: {runs} runs (+1 warm-up) ...",
                system.label()
            );
            let sample_pss = concurrency == PSS_CONCURRENCY;
            let measured = measure(system, concurrency, runs, sample_pss, options, base, root)
                .await
                .with_context(|| format!("{} at concurrency {concurrency}", system.label()))?;
            results.push(Level {
                system,
                concurrency,
                wall: measured.wall,
                samples: measured.samples,
                pss: measured.pss,
                idle_pss: measured.idle_pss,
            });
        }
    }
    let memory = measure_memory(options, root).await;
    report::print(&results, &systems, memory.as_ref());
    goals::print(&results, memory.as_ref());
    println!(
        "\nload average after: {} (the whole invocation took {:.1} min)",
        machine::load_average(),
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

/// Playwright's version when (c) is selected and installed; when it is not installed, says so
/// and drops (c) from `systems`.
fn playwright_or_skip(options: &Options, systems: &mut Vec<System>) -> Option<String> {
    if !systems.contains(&System::Playwright) {
        return None;
    }
    match playwright::installed_version(&options.playwright_dir) {
        Ok(version) => Some(version),
        Err(e) => {
            println!("Playwright skipped: {e:#}");
            systems.retain(|s| *s != System::Playwright);
            None
        }
    }
}

/// The orchestrator's memory per finished run (`--instant-runs`, in a child process); `None`
/// when not asked for or when it failed (said on stdout).
async fn measure_memory(options: &Options, root: &Path) -> Option<memory::MemoryReport> {
    if options.instant_runs == 0 {
        return None;
    }
    eprintln!(
        "measuring the orchestrator's memory: {} instant-driver runs in a child process ...",
        options.instant_runs
    );
    match memory::measure(options.instant_runs, root).await {
        Ok(report) => Some(report),
        Err(e) => {
            println!("memory per run not measured: {e:#}");
            None
        }
    }
}

/// One level of one system. With `sample_pss`, the browsers' memory is sampled while the measured
/// runs are in flight (after the warm-up).
async fn measure(
    system: System,
    concurrency: usize,
    runs: usize,
    sample_pss: bool,
    options: &Options,
    base: &str,
    root: &Path,
) -> anyhow::Result<Measured> {
    match system {
        System::BareContext => {
            measure_bare_context(concurrency, runs, sample_pss, base, root).await
        }
        System::BareProcess => {
            measure_bare_process(concurrency, runs, sample_pss, base, root).await
        }
        System::Playwright => {
            playwright::measure(
                &options.playwright_dir,
                root,
                base,
                concurrency,
                runs,
                sample_pss,
            )
            .await
        }
        pilothouse => {
            let variant = pilothouse.variant().context("not a Pilothouse system")?;
            pilothouse::measure(root, base, concurrency, runs, variant, sample_pss).await
        }
    }
}

/// (a): one bare browser, a fresh context per run; its idle PSS with `sample_pss`.
async fn measure_bare_context(
    concurrency: usize,
    runs: usize,
    sample_pss: bool,
    base: &str,
    root: &Path,
) -> anyhow::Result<Measured> {
    let profile = root.join(format!("bare-context-c{concurrency}"));
    let browser = bare::BareBrowser::launch(&profile).await?;
    let idle_pss = match sample_pss {
        true => pss::idle(&profile).await,
        false => None,
    };
    let measured = async {
        bare::run_in_context(&browser, base)
            .await
            .context("warm-up run")?;
        let sample = sample_pss.then(|| profile.clone());
        let measured = closed_loop(concurrency, runs, sample, || {
            bare::run_in_context(&browser, base)
        })
        .await;
        anyhow::Ok(Measured {
            idle_pss,
            ..measured
        })
    }
    .await;
    browser.close().await;
    measured
}

/// (b): a bare browser process per run, each with its own profile.
async fn measure_bare_process(
    concurrency: usize,
    runs: usize,
    sample_pss: bool,
    base: &str,
    root: &Path,
) -> anyhow::Result<Measured> {
    let next = AtomicUsize::new(0);
    let prefix = format!("bare-process-c{concurrency}-");
    let profile = |n: usize| root.join(format!("{prefix}{n}"));
    bare::run_in_process(profile(usize::MAX), base)
        .await
        .context("warm-up run")?;
    // Every run's profile starts with the prefix: the sampler matches it as a substring.
    let sample = sample_pss.then(|| root.join(&prefix));
    Ok(closed_loop(concurrency, runs, sample, || {
        bare::run_in_process(profile(next.fetch_add(1, Ordering::Relaxed)), base)
    })
    .await)
}

/// `concurrency` clients run `run` back to back until `runs` have started; returns the wall
/// time and every run's outcome, and with `pss`, the PSS samples of the Chromium processes
/// whose arguments name that path, taken while the runs were in flight.
pub(crate) async fn closed_loop<F, Fut>(
    concurrency: usize,
    runs: usize,
    pss: Option<PathBuf>,
    run: F,
) -> Measured
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<RunSample>>,
{
    let sampler = pss.map(pss::PssSampler::start);
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
    let wall = started.elapsed();
    let pss = match sampler {
        Some(sampler) => sampler.finish().await,
        None => Vec::new(),
    };
    Measured {
        wall,
        samples,
        pss,
        idle_pss: None,
    }
}

/// Milliseconds since `start`, with µs precision.
pub(crate) fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Data

/// One way of running the workload.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum System {
    BareContext,
    BareProcess,
    Playwright,
    Pilothouse,
    PilothouseRecording,
    PilothouseProcess,
    PilothouseCold,
}

impl System {
    pub(crate) const ALL: [System; 7] = [
        System::BareContext,
        System::Playwright,
        System::BareProcess,
        System::Pilothouse,
        System::PilothouseRecording,
        System::PilothouseProcess,
        System::PilothouseCold,
    ];

    pub(crate) fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name.trim() {
            "a" => System::BareContext,
            "b" => System::BareProcess,
            "c" => System::Playwright,
            "d" => System::Pilothouse,
            "d-rec" => System::PilothouseRecording,
            "d-proc" => System::PilothouseProcess,
            "d-cold" => System::PilothouseCold,
            other => bail!(
                "--systems: unknown system `{other}`; use a, b, c, d, d-rec, d-proc or d-cold"
            ),
        })
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            System::BareContext => "(a) bare chromiumoxide, one browser, a context per run",
            System::BareProcess => "(b) bare chromiumoxide, a browser process per run",
            System::Playwright => "(c) Playwright (Node), one browser, a context per run",
            System::Pilothouse => "(d) Pilothouse, isolation = context, warm pool",
            System::PilothouseRecording => {
                "(d-rec) Pilothouse, isolation = context, warm pool, recording on"
            }
            System::PilothouseProcess => "(d-proc) Pilothouse, isolation = process",
            System::PilothouseCold => {
                "(d-cold) Pilothouse, isolation = context, spare_contexts = 0"
            }
        }
    }

    /// The short name of table columns.
    pub(crate) fn short(self) -> &'static str {
        match self {
            System::BareContext => "(a) bare ctx",
            System::BareProcess => "(b) bare proc",
            System::Playwright => "(c) Playwright",
            System::Pilothouse => "(d) ctx warm",
            System::PilothouseRecording => "(d-rec) ctx rec",
            System::PilothouseProcess => "(d-proc) process",
            System::PilothouseCold => "(d-cold) ctx cold",
        }
    }

    /// How a Pilothouse system is configured; `None` for the others.
    pub(crate) fn variant(self) -> Option<pilothouse::Variant> {
        use ::pilothouse::Isolation;
        use pilothouse::Variant;
        let warm = Variant {
            name: "ctx-warm",
            isolation: Isolation::Context,
            record: false,
            spare_contexts: None,
        };
        Some(match self {
            System::Pilothouse => warm,
            System::PilothouseRecording => Variant {
                name: "ctx-rec",
                record: true,
                ..warm
            },
            System::PilothouseProcess => Variant {
                name: "process",
                isolation: Isolation::Process,
                ..warm
            },
            System::PilothouseCold => Variant {
                name: "ctx-cold",
                spare_contexts: Some(0),
                ..warm
            },
            _ => return None,
        })
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
    /// Pilothouse only: the browser lease (`browser_ready`'s `launch_ms`).
    pub(crate) lease_ms: Option<f64>,
    /// Pilothouse only: submit → the `queued` event (admission: the run durably stored).
    pub(crate) admit_ms: Option<f64>,
}

/// The outcome of one measured level of one system.
pub(crate) struct Measured {
    pub(crate) wall: Duration,
    pub(crate) samples: Vec<anyhow::Result<RunSample>>,
    /// PSS samples (bytes) of the system's Chromium processes, when asked for.
    pub(crate) pss: Vec<u64>,
    /// Their PSS before the first run, when asked for and the system keeps browsers idle.
    pub(crate) idle_pss: Option<u64>,
}

/// One system at one concurrency.
pub(crate) struct Level {
    pub(crate) system: System,
    pub(crate) concurrency: usize,
    pub(crate) wall: Duration,
    pub(crate) samples: Vec<anyhow::Result<RunSample>>,
    pub(crate) pss: Vec<u64>,
    pub(crate) idle_pss: Option<u64>,
}
