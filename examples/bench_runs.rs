//! Benchmark: Pilothouse run throughput and actor overhead next to bare CDP, on real Chromium.
//!
//! Run it with
//!
//! ```text
//! cargo run --release --example bench_runs -- [--runs N] [--evals M] [--no-recording]
//! ```
//!
//! It serves a two-page site on 127.0.0.1 and measures:
//!
//! 1. **Throughput.** N runs at concurrency 1 and 2N at concurrency 4 (default N = 12), each a
//!    9-step script mirroring the peer workload of `architecture.md` §6 minus `select`: goto
//!    page 1, click a link that navigates, type into an input, click a button, wait for an element
//!    that appears 400 ms later, extract it, evaluate `document.title`, take a screenshot, goto
//!    page 1. Each level starts its own orchestrator (`max_concurrent_runs = c`) and does one
//!    uncounted warm-up run. The table splits each run's duration (`RunStatus::duration_ms`) into
//!    browser launch (`browser_ready.launch_ms`), the sum of the action durations, and the rest
//!    ("engine overhead": actor hand-offs, event log, and closing the browser), and prints the
//!    architecture's peer baselines as ratios. Runs record as by default (a screenshot after each
//!    action, `actions.jsonl`, final DOM, `report.html`, manifest, local upload) unless
//!    `--no-recording` turns all of it off.
//! 2. **Per-action overhead.** M (default 500) `evaluate("1+1")` calls three ways: bare
//!    chromiumoxide `page.evaluate` (one CDP round trip); Pilothouse's own Chromium page driver
//!    called directly, without any actor (`ChromiumLauncher` + `PageDriver::execute`, the engine's
//!    public browser seam: all the CDP work of an `evaluate` action, settling included); and one
//!    Pilothouse run of M `evaluate` actions, recording off. Run minus driver is what the actors, the router
//!    pipeline and the event log add per action; driver minus bare is what the action's CDP work
//!    adds over a single round trip.
//!
//! It prints tables and never asserts a timing: figures depend on the machine and its load. At
//! the end it checks that no Chromium launched by the benchmark is left (every profile lives under
//! one `pilothouse-bench-*` temp dir).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;
use pilothouse::{Action, Config, EventKind, Orchestrator, RunId, RunRequest, RunState, Viewport};
// The engine's browser seam, below the facade: only this benchmark needs to drive a page
// without actors.
use pilothouse_actors::{ActionBounds, BrowserLauncher, ChromiumLauncher, CloseMode, LaunchSpec};
use serde_json::json;

/// Debian's Chromium binary, without the shell wrapper.
const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// Peer baselines from `architecture.md` §6 (10-step workload with `select`, a shared browser
/// and a fresh context per run), in runs per minute: (concurrency, bare chromiumoxide, Playwright).
const PEER_BASELINES: &[(usize, f64, f64)] = &[(1, 69.0, 65.0), (4, 106.0, 80.0)];

/// Uncounted calls before timing the bare evaluate loop.
const BARE_WARMUP_CALLS: usize = 20;

/// How long to wait for the last Chromium processes to be reaped before counting leftovers.
const LEAK_CHECK_WINDOW: Duration = Duration::from_secs(5);

const START_PAGE: &str = r#"<!doctype html><html><head><title>Bench start</title></head>
<body><a id="next" href="/form">to the form</a></body></html>"#;

const FORM_PAGE: &str = r#"<!doctype html><html><head><title>Bench form</title></head><body>
<input id="name"> <button id="go" type="button">Go</button>
<div id="out" style="display:none"></div>
<script>
document.getElementById('go').addEventListener('click', () => {
  const name = document.getElementById('name').value;
  setTimeout(() => {
    const out = document.getElementById('out');
    out.textContent = 'Hello, ' + name;
    out.style.display = 'block';
    document.title = 'Greeted ' + name;
  }, 400);
});
</script></body></html>"#;

struct Options {
    /// Runs at concurrency 1; concurrency 4 gets twice as many.
    runs: usize,
    /// Evaluate calls per path in the overhead benchmark.
    evals: usize,
    /// Throughput runs record (the default) or not.
    recording: bool,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        runs: 12,
        evals: 500,
        recording: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<usize> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            let n: usize = value
                .parse()
                .with_context(|| format!("{name}: `{value}` is not a number"))?;
            if n < 2 {
                bail!("{name}: must be at least 2");
            }
            Ok(n)
        };
        match arg.as_str() {
            "--runs" => options.runs = number("--runs")?,
            "--evals" => options.evals = number("--evals")?,
            "--no-recording" => options.recording = false,
            "-h" | "--help" => {
                println!("usage: bench_runs [--runs N] [--evals M] [--no-recording]");
                std::process::exit(0);
            }
            other => bail!(
                "unknown argument `{other}` (usage: bench_runs [--runs N] [--evals M] [--no-recording])"
            ),
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
    let addr = serve_site().await?;
    let base = format!("http://{addr}");
    println!(
        "Pilothouse benchmark: {} cores, Chromium {CHROMIUM}, site {base}, temp dir {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        root.path().display()
    );

    let result = run_all(&options, &base, root.path()).await;
    let left = wait_for_no_browsers(root.path()).await;
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

async fn run_all(options: &Options, base: &str, root: &Path) -> anyhow::Result<()> {
    let mut levels = Vec::new();
    for (concurrency, runs) in [(1, options.runs), (4, options.runs * 2)] {
        let recording = if options.recording { "on" } else { "off" };
        println!(
            "\nthroughput: concurrency {concurrency}, {runs} runs (+1 warm-up), recording {recording} ..."
        );
        levels.push(throughput(concurrency, runs, base, root, options.recording).await?);
    }
    print_throughput(&levels);

    println!(
        "\nper-action overhead: {} evaluate(\"1+1\") per path ...",
        options.evals
    );
    let bare = bare_evaluates(options.evals, base, root).await?;
    let driver = driver_evaluates(options.evals, base, root).await?;
    let pilothouse = pilothouse_evaluates(options.evals, base, root).await?;
    print_overhead(&bare, &driver, &pilothouse);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The site

async fn serve_site() -> anyhow::Result<SocketAddr> {
    fn html(body: &'static str) -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body)
    }
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { html(START_PAGE) }))
        .route("/form", axum::routing::get(|| async { html(FORM_PAGE) }))
        .route(
            "/favicon.ico",
            axum::routing::get(|| async { StatusCode::NO_CONTENT }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("site server stopped: {e}");
        }
    });
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// Throughput

fn workload(base: &str) -> anyhow::Result<RunRequest> {
    let request = json!({
        "driver": {"type": "script", "steps": [
            {"action": "goto", "url": format!("{base}/")},
            {"action": "click", "selector": "#next"},
            {"action": "type", "selector": "#name", "text": "Ada"},
            {"action": "click", "selector": "#go"},
            {"action": "wait_for", "selector": "#out", "state": "visible", "timeout_ms": 5000},
            {"action": "extract", "selector": "#out", "store_as": "greeting"},
            {"action": "evaluate", "script": "document.title", "store_as": "title"},
            {"action": "screenshot"},
            {"action": "goto", "url": format!("{base}/")}
        ]},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true}
    });
    Ok(RunRequest::from_json(&request.to_string())?)
}

fn config(concurrency: usize, queue: usize, root: &Path, name: &str, record: bool) -> Config {
    let mut config = Config {
        chromium_path: Some(PathBuf::from(CHROMIUM)),
        runs_dir: root.join(name).join("runs"),
        profile_root: root.join(name).join("profiles"),
        max_concurrent_runs: concurrency,
        queue_capacity: queue,
        ..Config::default()
    };
    config.recording.recordings_dir = root.join(name).join("recordings");
    let r = &mut config.recording;
    (r.screenshots, r.actions, r.final_dom, r.report, r.upload) =
        (record, record, record, record, record);
    config
}

/// What one finished run reported.
struct RunSample {
    completed: bool,
    /// The workload really ran: the delayed element's text was extracted.
    extracted: bool,
    error: Option<String>,
    duration_ms: f64,
    launch_ms: f64,
    actions_ms: f64,
    /// Per step: (action name, duration ms).
    steps: Vec<(String, f64)>,
}

impl RunSample {
    fn overhead_ms(&self) -> f64 {
        self.duration_ms - self.launch_ms - self.actions_ms
    }
}

struct Level {
    concurrency: usize,
    runs: usize,
    wall: Duration,
    samples: Vec<RunSample>,
}

async fn throughput(
    concurrency: usize,
    runs: usize,
    base: &str,
    root: &Path,
    recording: bool,
) -> anyhow::Result<Level> {
    let request = workload(base)?;
    let config = config(
        concurrency,
        runs + 8,
        root,
        &format!("c{concurrency}"),
        recording,
    );
    let orchestrator = Orchestrator::start(config).await?;
    let handle = orchestrator.handle();
    let measured = async {
        let warmup = submit_and_watch(&handle, request.clone()).await?;
        let warmup = warmup.await??;
        if !warmup.completed {
            bail!("warm-up run did not complete: {:?}", warmup.error);
        }
        let started = Instant::now();
        let mut watchers = Vec::with_capacity(runs);
        for _ in 0..runs {
            watchers.push(submit_and_watch(&handle, request.clone()).await?);
        }
        let mut samples = Vec::with_capacity(runs);
        for watcher in watchers {
            samples.push(watcher.await??);
        }
        Ok((started.elapsed(), samples))
    }
    .await;
    orchestrator.shutdown(Duration::from_secs(10)).await;
    let (wall, samples) = measured?;
    Ok(Level {
        concurrency,
        runs,
        wall,
        samples,
    })
}

/// Submits a run and spawns a task that follows its events to the end.
async fn submit_and_watch(
    handle: &pilothouse::OrchestratorHandle,
    request: RunRequest,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<RunSample>>> {
    let run_id = handle.submit(request).await?;
    let mut events = handle.events(run_id, 0).await?;
    Ok(tokio::spawn(async move {
        let mut launch_ms = 0.0;
        let mut actions_ms = 0.0;
        let mut steps = Vec::new();
        while let Some(event) = events.next().await {
            match event.kind {
                EventKind::BrowserReady { launch_ms: ms } => launch_ms = ms as f64,
                EventKind::Action {
                    action,
                    duration_ms,
                    ..
                } => {
                    actions_ms += duration_ms as f64;
                    steps.push((action, duration_ms as f64));
                }
                EventKind::Finished { status } => {
                    return Ok(RunSample {
                        completed: status.state == RunState::Completed,
                        extracted: status.data.get("greeting") == Some(&json!("Hello, Ada")),
                        error: status.error.map(|e| format!("{:?}: {}", e.code, e.message)),
                        duration_ms: status.duration_ms.unwrap_or(0) as f64,
                        launch_ms,
                        actions_ms,
                        steps,
                    });
                }
                _ => {}
            }
        }
        bail!("run {run_id}: the event stream ended without a finished event")
    }))
}

fn print_throughput(levels: &[Level]) {
    println!();
    println!(
        "== Throughput: 9-step workload, one Chromium process per run (figures are p50 unless noted) =="
    );
    println!(
        "{:>5} {:>5} {:>9} {:>7} {:>8} {:>11} {:>11} {:>10} {:>11} {:>12}",
        "conc",
        "runs",
        "completed",
        "wall s",
        "runs/min",
        "run p50 ms",
        "run p95 ms",
        "launch ms",
        "Σactions ms",
        "overhead ms"
    );
    let mut rates = Vec::new();
    for level in levels {
        let completed: Vec<&RunSample> = level.samples.iter().filter(|s| s.completed).collect();
        let pick =
            |f: fn(&RunSample) -> f64| -> Vec<f64> { completed.iter().map(|s| f(s)).collect() };
        let durations = pick(|s| s.duration_ms);
        let rate = completed.len() as f64 / level.wall.as_secs_f64() * 60.0;
        rates.push((level.concurrency, rate));
        println!(
            "{:>5} {:>5} {:>9} {:>7.1} {:>8.1} {:>11.0} {:>11.0} {:>10.0} {:>11.0} {:>12.0}",
            level.concurrency,
            level.runs,
            completed.len(),
            level.wall.as_secs_f64(),
            rate,
            percentile(&durations, 50.0),
            percentile(&durations, 95.0),
            percentile(&pick(|s| s.launch_ms), 50.0),
            percentile(&pick(|s| s.actions_ms), 50.0),
            percentile(&pick(RunSample::overhead_ms), 50.0),
        );
        let not_extracted = completed.iter().filter(|s| !s.extracted).count();
        if not_extracted > 0 {
            println!("      {not_extracted} completed run(s) did not extract \"Hello, Ada\"");
        }
        for failed in level.samples.iter().filter(|s| !s.completed).take(3) {
            println!(
                "      not completed: {}",
                failed.error.as_deref().unwrap_or("(no error)")
            );
        }
    }
    println!(
        "  overhead = run duration − launch − Σ action durations: actor hand-offs, event log, \
         and closing the browser (close + wait for exit + profile removal)."
    );

    println!();
    println!("== Against the peer baselines of architecture.md §6 (runs/min) ==");
    println!(
        "{:>5} {:>11} {:>19} {:>7} {:>11} {:>7}",
        "conc", "Pilothouse", "bare chromiumoxide", "ratio", "Playwright", "ratio"
    );
    for (concurrency, rate) in &rates {
        if let Some((_, bare, playwright)) =
            PEER_BASELINES.iter().find(|(c, _, _)| c == concurrency)
        {
            println!(
                "{:>5} {:>11.1} {:>19.0} {:>7.2} {:>11.0} {:>7.2}",
                concurrency,
                rate,
                bare,
                rate / bare,
                playwright,
                rate / playwright
            );
        }
    }
    println!(
        "  The peers share one browser and open a fresh context + page per run (≈140–155 ms before \
         the first action at c=1)"
    );
    println!(
        "  and run a 10-step workload (with `select`). Pilothouse currently launches and closes one \
         Chromium process per run,"
    );
    println!(
        "  so the gap is process launch + close (see the launch and overhead columns), not the actors."
    );

    println!();
    println!("== p50 action duration by step, ms (router-timed, guard checks included) ==");
    print!("{:>4} {:>10}", "step", "action");
    for level in levels {
        print!(" {:>8}", format!("c={}", level.concurrency));
    }
    println!();
    let step_count = levels
        .iter()
        .flat_map(|l| l.samples.iter().map(|s| s.steps.len()))
        .max()
        .unwrap_or(0);
    for step in 0..step_count {
        let name = levels
            .iter()
            .flat_map(|l| l.samples.iter())
            .find_map(|s| s.steps.get(step).map(|(n, _)| n.clone()))
            .unwrap_or_default();
        print!("{:>4} {:>10}", step + 1, name);
        for level in levels {
            let values: Vec<f64> = level
                .samples
                .iter()
                .filter_map(|s| s.steps.get(step).map(|(_, ms)| *ms))
                .collect();
            print!(" {:>8.0}", percentile(&values, 50.0));
        }
        println!();
    }
}

// ---------------------------------------------------------------------------------------------
// Per-action overhead

/// Per-action timings of the Pilothouse run, in µs.
struct PilothouseTimings {
    /// `duration_ms` of each evaluate action (ms resolution).
    router: Vec<f64>,
    /// Gaps between consecutive evaluate action events' `at` timestamps: the full cost of one
    /// action as the run experiences it, driver and session hand-offs included.
    wall: Vec<f64>,
}

async fn bare_evaluates(count: usize, base: &str, root: &Path) -> anyhow::Result<Vec<f64>> {
    let profile = root.join("bare").join("profile");
    std::fs::create_dir_all(&profile)?;
    let config = BrowserConfig::builder()
        .chrome_executable(CHROMIUM)
        .new_headless_mode()
        .no_sandbox()
        .arg("disable-gpu")
        .arg("no-first-run")
        .arg("no-startup-window")
        .user_data_dir(&profile)
        .build()
        .map_err(anyhow::Error::msg)?;
    let (mut browser, mut handler) = Browser::launch(config).await?;
    // The handler must be polled for any call to complete; stop at the first connection error.
    let handler_task = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if event.is_err() {
                break;
            }
        }
    });
    let measured = async {
        let page = browser.new_page(format!("{base}/")).await?;
        for _ in 0..BARE_WARMUP_CALLS {
            page.evaluate("1+1").await?;
        }
        let mut plain = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let two: i64 = page.evaluate("1+1").await?.into_value()?;
            plain.push(micros(started.elapsed()));
            anyhow::ensure!(two == 2, "1+1 evaluated to {two}");
        }
        anyhow::Ok(plain)
    }
    .await;
    // close() then wait(): dropping an unclosed browser leaves processes behind for a while.
    let _ = browser.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), browser.wait()).await;
    if browser.try_wait().ok().flatten().is_none() {
        let _ = browser.kill().await;
    }
    handler_task.abort();
    measured
}

/// Pilothouse's Chromium page driver without any actor: the engine's public browser seam
/// (`BrowserLauncher` / `PageDriver`), launched the way a session launches it (minus the
/// per-run filtering proxy, which an `evaluate` of `1+1` never touches).
async fn driver_evaluates(count: usize, base: &str, root: &Path) -> anyhow::Result<Vec<f64>> {
    let config = config(1, 1, root, "driver", false);
    let run_id = RunId::new();
    let spec = LaunchSpec {
        run_id,
        chromium: PathBuf::from(CHROMIUM),
        profile_dir: config.profile_root.join(format!("run-{run_id}")),
        viewport: Viewport::default(),
        extra_args: config.chromium_args.clone(),
        launch_timeout: Duration::from_millis(config.timeouts.launch_ms),
        screenshot_quality: config.screenshot_quality,
        observe: config.observe.clone(),
        settle: config.settle.clone(),
        proxy: None,
        scrubber: Default::default(),
        max_result_bytes: config.limits.max_result_bytes,
        hide_forms: false,
        downloads: Default::default(),
    };
    let bounds = ActionBounds {
        action: Duration::from_millis(config.defaults.action_timeout_ms),
        navigation: Duration::from_millis(config.defaults.navigation_timeout_ms),
        run_left: None,
    };
    // Built from JSON, as a host would, so new fields on `Action` variants do not break this.
    let action =
        |value: serde_json::Value| -> anyhow::Result<Action> { Ok(serde_json::from_value(value)?) };
    let goto = action(json!({"action": "goto", "url": format!("{base}/")}))?;
    let evaluate = action(json!({"action": "evaluate", "script": "1+1"}))?;
    let mut driver = ChromiumLauncher
        .launch(spec)
        .await
        .map_err(anyhow::Error::msg)?;
    let measured = async {
        driver
            .execute(&goto, bounds)
            .await
            .map_err(|e| anyhow::anyhow!("goto failed: {}", e.message))?;
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            driver
                .execute(&evaluate, bounds)
                .await
                .map_err(|e| anyhow::anyhow!("evaluate failed: {}", e.message))?;
            samples.push(micros(started.elapsed()));
        }
        anyhow::Ok(samples)
    }
    .await;
    // Closes, waits for the exit and removes the profile (killing the process group if needed).
    let report = driver
        .close(CloseMode::Graceful(Duration::from_millis(
            config.timeouts.close_ms,
        )))
        .await;
    if let Some(problem) = report.problem {
        println!("  driver close: {problem}");
    }
    measured
}

async fn pilothouse_evaluates(
    count: usize,
    base: &str,
    root: &Path,
) -> anyhow::Result<PilothouseTimings> {
    let mut steps = vec![json!({"action": "goto", "url": format!("{base}/")})];
    steps.extend((0..count).map(|_| json!({"action": "evaluate", "script": "1+1"})));
    let request = json!({
        "driver": {"type": "script", "steps": steps},
        "guardrails": {"allowed_domains": ["127.0.0.1"], "allow_private_networks": true},
        "limits": {"max_steps": count + 10}
    });
    let request = RunRequest::from_json(&request.to_string())?;
    let orchestrator = Orchestrator::start(config(1, 4, root, "evaluate", false)).await?;
    let handle = orchestrator.handle();
    let measured = async {
        let run_id = handle.submit(request).await?;
        let mut events = handle.events(run_id, 0).await?;
        let mut router = Vec::with_capacity(count);
        let mut stamps = Vec::with_capacity(count);
        while let Some(event) = events.next().await {
            match event.kind {
                EventKind::Action {
                    action,
                    duration_ms,
                    success,
                    ..
                } if action == "evaluate" => {
                    anyhow::ensure!(success, "an evaluate action failed");
                    router.push(duration_ms as f64 * 1000.0);
                    stamps.push(event.at);
                }
                EventKind::Finished { status } => {
                    anyhow::ensure!(
                        status.state == RunState::Completed,
                        "the evaluate run ended {}: {:?}",
                        status.state,
                        status.error
                    );
                    break;
                }
                _ => {}
            }
        }
        let wall = stamps
            .windows(2)
            .map(|w| (w[1] - w[0]).num_microseconds().unwrap_or(0) as f64)
            .collect();
        anyhow::Ok(PilothouseTimings { router, wall })
    }
    .await;
    orchestrator.shutdown(Duration::from_secs(10)).await;
    measured
}

fn print_overhead(bare: &[f64], driver: &[f64], pilothouse: &PilothouseTimings) {
    println!();
    println!("== Per-action cost of evaluate(\"1+1\"), µs ==");
    println!(
        "{:<60} {:>5} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "path", "ops", "p50", "p95", "mean", "mean/bare", "mean−bare"
    );
    let bare_mean = mean(bare);
    let rows: [(&str, &[f64]); 4] = [
        (
            "1 bare chromiumoxide page.evaluate (one CDP round trip)",
            bare,
        ),
        (
            "2 Pilothouse page driver, no actors (PageDriver::execute)",
            driver,
        ),
        (
            "3 Pilothouse run: action duration_ms (router; ms resolution)",
            &pilothouse.router,
        ),
        (
            "4 Pilothouse run: wall per action (gap between events)",
            &pilothouse.wall,
        ),
    ];
    for (name, samples) in rows {
        let m = mean(samples);
        println!(
            "{:<60} {:>5} {:>9.0} {:>9.0} {:>9.0} {:>11.1} {:>11.0}",
            name,
            samples.len(),
            percentile(samples, 50.0),
            percentile(samples, 95.0),
            m,
            m / bare_mean,
            m - bare_mean
        );
    }
    let driver_mean = mean(driver);
    let driver_p50 = percentile(driver, 50.0);
    let wall_mean = mean(&pilothouse.wall);
    let wall_p50 = percentile(&pilothouse.wall, 50.0);
    let actors_mean = wall_mean - driver_mean;
    let actors_p50 = wall_p50 - driver_p50;
    // Paths 2 and 4 run one after the other on a shared machine; the spread of path 2 says how
    // large a difference must be before it means anything.
    let noise = percentile(driver, 95.0) - driver_p50;
    println!(
        "  Actors + router pipeline + event log per action (row 4 − row 2): p50 {:+.0} µs, mean \
         {:+.0} µs ({:+.2}% of the action at p50, {:+.2}× one bare round trip).",
        actors_p50,
        actors_mean,
        actors_p50 / wall_p50 * 100.0,
        actors_p50 / bare_mean
    );
    println!(
        "  Noise: row 2's p95 − p50 spread is {:.0} µs{}.",
        noise,
        if actors_p50.abs() < noise {
            ", so this difference is indistinguishable from zero"
        } else {
            ""
        }
    );
    println!(
        "  The page driver's own CDP work per evaluate action (row 2 − row 1): mean {:.0} µs, \
         {:.0}× one round trip.",
        driver_mean - bare_mean,
        driver_mean / bare_mean
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Nearest-rank percentile; NaN for no values.
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Polls until no live process carries `root` in its arguments (every profile we create is
/// under it), or the window passes; returns the pids still alive.
async fn wait_for_no_browsers(root: &Path) -> Vec<u32> {
    let deadline = Instant::now() + LEAK_CHECK_WINDOW;
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
