//! `bench_runs --overhead M`: the per-action cost of `evaluate("1+1")` three ways, to split
//! what Pilothouse adds per action into the page driver's CDP work and the actors' hand-offs.
//!
//! M calls each: bare chromiumoxide `page.evaluate` (one CDP round trip); Pilothouse's own
//! Chromium page driver called directly, without any actor (`ChromiumLauncher` +
//! `PageDriver::execute`, the engine's public browser seam: all the CDP work of an `evaluate`
//! action, settling included); and one Pilothouse run of M `evaluate` actions, recording off.
//! Run minus driver is what the actors, the router pipeline and the event log add per action;
//! driver minus bare is what the action's CDP work adds over a single round trip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use pilothouse::{Action, Config, EventKind, Orchestrator, RunId, RunRequest, RunState, Viewport};
// The engine's browser seam, below the facade: only this benchmark needs to drive a page
// without actors.
use pilothouse_actors::{ActionBounds, BrowserLauncher, ChromiumLauncher, CloseMode, LaunchSpec};
use serde_json::json;

use crate::CHROMIUM;
use crate::bare::BareBrowser;
use crate::pilothouse::config;
use crate::report::percentile;

/// Uncounted calls before timing the bare evaluate loop.
const BARE_WARMUP_CALLS: usize = 20;

/// Runs the three paths one after the other and prints the table.
pub(crate) async fn run(evals: usize, base: &str, root: &Path) -> anyhow::Result<()> {
    println!("per-action overhead: {evals} evaluate(\"1+1\") per path ...");
    let bare = bare_evaluates(evals, base, root).await?;
    let driver = driver_evaluates(evals, base, root).await?;
    let pilothouse = pilothouse_evaluates(evals, base, root).await?;
    print_overhead(&bare, &driver, &pilothouse);
    Ok(())
}

/// Per-action timings of the Pilothouse run, in µs.
struct PilothouseTimings {
    /// `duration_ms` of each evaluate action (ms resolution).
    router: Vec<f64>,
    /// Gaps between consecutive evaluate action events' `at` timestamps: the full cost of one
    /// action as the run experiences it, driver and session hand-offs included.
    wall: Vec<f64>,
}

async fn bare_evaluates(count: usize, base: &str, root: &Path) -> anyhow::Result<Vec<f64>> {
    let browser = BareBrowser::launch(&root.join("bare").join("profile")).await?;
    let measured = async {
        let page = browser.new_page(&format!("{base}/")).await?;
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
    browser.close().await;
    measured
}

/// Pilothouse's Chromium page driver without any actor: the engine's public browser seam
/// (`BrowserLauncher` / `PageDriver`), launched the way a session launches it (minus the
/// per-run filtering proxy, which an `evaluate` of `1+1` never touches).
async fn driver_evaluates(count: usize, base: &str, root: &Path) -> anyhow::Result<Vec<f64>> {
    let config = config(1, 1, root, "driver", false);
    let spec = launch_spec(&config);
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

/// A launch spec for one page, from `config` the way a session builds it (no egress proxy,
/// nothing scrubbed, downloads refused).
fn launch_spec(config: &Config) -> LaunchSpec {
    let run_id = RunId::new();
    LaunchSpec {
        run_id,
        chromium: PathBuf::from(CHROMIUM),
        profile_dir: config.profile_root.join(format!("run-{run_id}")),
        viewport: Viewport::default(),
        extra_args: config.chromium_args.clone(),
        launch_timeout: Duration::from_millis(config.timeouts.launch_ms),
        screenshot_quality: config.screenshot_quality,
        observe: config.observe.clone(),
        settle: config.settle.clone(),
        egress: None,
        scrubber: Default::default(),
        max_result_bytes: config.limits.max_result_bytes,
        hide_forms: false,
        downloads: Default::default(),
    }
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
    print_breakdown(bare_mean, driver, &pilothouse.wall);
}

/// What the table's rows mean together: the actors' share (row 4 − row 2) against row 2's
/// noise, and the driver's CDP work (row 2 − row 1).
fn print_breakdown(bare_mean: f64, driver: &[f64], wall: &[f64]) {
    let driver_mean = mean(driver);
    let driver_p50 = percentile(driver, 50.0);
    let wall_mean = mean(wall);
    let wall_p50 = percentile(wall, 50.0);
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
