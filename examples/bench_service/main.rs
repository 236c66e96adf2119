//! Benchmark: `pilothouse serve` under load — status latency while runs pour in, durable
//! submits per second, and SSE fan-out of one run to many subscribers — on real Chromium.
//!
//! Build the binary first, then run the benchmark (it starts `target/release/pilothouse serve`
//! on 127.0.0.1 with a temp config and stops it at the end):
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_service -- [--runs 200] [--subscribers 1000]
//! ```
//!
//! 1. **Submits and status under load.** N runs (default 200; each a `goto` and an `evaluate` on
//!    a page this program serves, recording off) are POSTed as fast as the API accepts them, from
//!    8 connections, retrying on 429 after its `Retry-After`. Meanwhile 4 pollers GET
//!    `/runs/{id}` of runs already submitted, back to back, until every submit is answered and
//!    for 5 s after (while the runs execute). Reported: durable submits per second (a 201 means
//!    the run's `queued` status was fsynced), status p50/p99/max, and the targets of issue 9.
//!    The remaining runs are then cancelled.
//! 2. **SSE fan-out.** One run that first waits 3 s for an element (time for every subscriber to
//!    connect), then performs 60 `evaluate` actions, each an event. S subscribers (default 1000)
//!    stream its `/events`; each event's delivery latency is the time a subscriber parsed it
//!    minus the event's own `at`, counted for events appended after that subscriber connected.
//!    Every subscriber must see every seq exactly once, in order, ending with `finished`.
//!
//! **The floor beside it.** The same program, started again as a separate process with
//! `--baseline-server` (`baseline.rs`), is a bare axum server: a static `/health`, and SSE
//! events serialized once and fanned out of one tokio broadcast channel. During phase 1 one
//! more poller times its `/health`; in phase 2 the same S subscribers stream its events, sent at
//! the fan-out run's pace. Those columns are what this machine gives any tokio/axum server under
//! the same load, so the ratio is Pilothouse's own cost.
//!
//! It prints tables and never asserts a timing. It raises its open-file limit (the servers
//! inherit it) since 1000 streams need 2000 sockets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::header;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Concurrent connections submitting runs.
const SUBMITTERS: usize = 8;
/// Concurrent connections polling run statuses.
const POLLERS: usize = 4;
/// How long the pollers go on after the last submit was answered.
const POLL_AFTER_SUBMITS: Duration = Duration::from_secs(5);
/// Targets from issue 9.
const STATUS_P99_TARGET_MS: f64 = 5.0;
const FANOUT_P99_TARGET_MS: f64 = 10.0;
/// Actions of the fan-out run, each one event.
const FANOUT_ACTIONS: usize = 60;

const PAGE: &str = r#"<!doctype html><html><head><title>Bench</title></head><body>
<h1 id="h">Bench page</h1>
<script>setTimeout(() => { const d = document.createElement('div'); d.id = 'late';
d.textContent = 'ready'; document.body.appendChild(d); }, 3000);</script></body></html>"#;

mod baseline;
mod fanout;
mod load;
#[path = "../../tests/common/procs.rs"]
mod procs;

use fanout::{Fanout, baseline_fan_out, fan_out};
use load::{Load, cancel_all, submit_and_poll, wait_idle};

/// The pace of the baseline's events: about one `evaluate` action of the fan-out run.
const BASELINE_INTERVAL_MS: u64 = 65;

#[derive(Debug)]
struct Args {
    runs: usize,
    subscribers: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        runs: 200,
        subscribers: 1_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> anyhow::Result<usize> {
            it.next()
                .with_context(|| format!("{flag} needs a number"))?
                .parse()
                .with_context(|| format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--runs" => args.runs = value()?,
            "--subscribers" => args.subscribers = value()?,
            other => bail!("unknown argument {other}; use --runs N --subscribers S"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--baseline-server") {
        return baseline::serve().await;
    }
    let args = parse_args()?;
    raise_open_file_limit();
    let binary = server_binary()?;
    let site = serve_site().await?;
    let dir = tempfile::Builder::new()
        .prefix("pilothouse-bench-service-")
        .tempdir()?;
    let server = Server::start(&binary, dir.path(), args.runs).await?;
    let floor = Server::baseline().await?;
    // Streams use clients of their own; every other request is bounded.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()?;

    println!(
        "pilothouse serve at {}, baseline at {} (site at {site})",
        server.base, floor.base
    );
    let load = submit_and_poll(&client, &server.base, &floor.base, site, args.runs).await?;
    cancel_all(&client, &server.base, &load.ids).await;
    wait_idle(&client, &server.base).await?;
    let fanout = fan_out(&client, &server.base, site, args.subscribers).await?;
    let floor_fanout =
        baseline_fan_out(&client, &floor.base, args.subscribers, fanout.events).await?;

    print_report(&args, &load, &fanout, &floor_fanout);
    server.stop().await?;
    floor.stop().await?;
    let left = leftover_browsers(dir.path()).await;
    println!("\nChromium processes left under the benchmark's profile root: {left}");
    Ok(())
}

/// `target/release/pilothouse`, next to this example's own directory.
fn server_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory")?;
    let binary = dir.join("pilothouse");
    if !binary.is_file() {
        bail!(
            "{} not found: build it first with `cargo build --release`",
            binary.display()
        );
    }
    Ok(binary)
}

fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

async fn serve_site() -> anyhow::Result<SocketAddr> {
    let app = axum::Router::new()
        .fallback(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// The `pilothouse serve` child process.
struct Server {
    child: tokio::process::Child,
    base: String,
}

impl Server {
    async fn start(binary: &Path, dir: &Path, runs: usize) -> anyhow::Result<Self> {
        let config = dir.join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "runs_dir = {:?}\nprofile_root = {:?}\nmax_concurrent_runs = 4\n\
                 queue_capacity = {}\n[recording]\nrecordings_dir = {:?}\nscreenshots = false\n\
                 actions = false\nfinal_dom = false\nreport = false\nupload = false\n",
                dir.join("runs"),
                dir.join("profiles"),
                runs + 8,
                dir.join("recordings"),
            ),
        )?;
        let mut command = tokio::process::Command::new(binary);
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env_remove("PILOTHOUSE_API_KEY");
        Self::spawn(command, "pilothouse listening on ").await
    }

    /// This program again, as the bare axum baseline.
    async fn baseline() -> anyhow::Result<Self> {
        let mut command = tokio::process::Command::new(std::env::current_exe()?);
        command.arg("--baseline-server");
        Self::spawn(command, "baseline listening on ").await
    }

    /// Starts a server and reads the address it prints after `prefix`.
    async fn spawn(mut command: tokio::process::Command, prefix: &str) -> anyhow::Result<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start a server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("the server did not say where it listens")??
                .context("the server exited before listening")?;
            if let Some(url) = line.strip_prefix(prefix) {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, base })
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            )?;
        }
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await??;
        println!("server exited: {status}");
        Ok(())
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// The latencies of requests that began inside the window (`before`: before the last submit
/// was answered, or not).
fn window(samples: &[(Instant, f64)], split: Instant, before: Option<bool>) -> Vec<f64> {
    sorted(
        samples
            .iter()
            .filter(|(at, _)| before.is_none_or(|b| (*at < split) == b))
            .map(|(_, ms)| *ms)
            .collect(),
    )
}

/// `n, p50, p99, max` of sorted latencies.
fn summary(sorted: &[f64]) -> String {
    format!(
        "{}, {:.2}, {:.2}, {:.2} ms",
        sorted.len(),
        percentile(sorted, 50.0),
        percentile(sorted, 99.0),
        percentile(sorted, 100.0)
    )
}

fn print_report(args: &Args, load: &Load, fanout: &Fanout, floor: &Fanout) {
    print_load(args, load);
    print_fanout(fanout, floor);
}

/// Table 1: submit rate, and status latency against the baseline's, per window.
fn print_load(args: &Args, load: &Load) {
    println!(
        "\n1. Submits and status under load ({} runs, {SUBMITTERS} submitters, {POLLERS} pollers \
         on GET /runs/{{id}}, 1 on the baseline's GET /health)",
        args.runs
    );
    println!(
        "durable submits/s (a 201 means the run's queued status is fsynced): {:.0}; 429s met: {}",
        load.ids.len() as f64 / load.submit_seconds,
        load.retries_429
    );
    println!(
        "| window | Pilothouse GET /runs/{{id}}: n, p50, p99, max | baseline GET /health: n, p50, p99, max | p99 ratio | p99 target |"
    );
    println!("|---|---|---|---|---|");
    for (name, before) in [
        ("while submitting", Some(true)),
        ("after, runs executing", Some(false)),
        ("all", None),
    ] {
        let ours = window(&load.status, load.submits_done, before);
        let base = window(&load.floor, load.submits_done, before);
        let p99 = percentile(&ours, 99.0);
        println!(
            "| {name} | {} | {} | {:.2}× | ≤ {STATUS_P99_TARGET_MS} ms ({:.2}×) |",
            summary(&ours),
            summary(&base),
            p99 / percentile(&base, 99.0),
            p99 / STATUS_P99_TARGET_MS
        );
    }
}

/// Table 2: SSE fan-out completeness and delivery latency, Pilothouse against the baseline.
fn print_fanout(fanout: &Fanout, floor: &Fanout) {
    println!(
        "\n2. SSE fan-out: {} subscribers of one stream, {} events each",
        fanout.subscribers, fanout.events
    );
    println!(
        "| server | complete streams (1..=N once, in order, then finished) | live deliveries | p50 | p99 | max | p99 target |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, seen) in [
        ("Pilothouse GET /runs/{id}/events", fanout),
        ("baseline: bare axum SSE, one broadcast", floor),
    ] {
        let lat = sorted(seen.latencies_ms.clone());
        let p99 = percentile(&lat, 99.0);
        println!(
            "| {name} | {} of {} | {} | {:.2} ms | {p99:.2} ms | {:.2} ms | ≤ {FANOUT_P99_TARGET_MS} ms ({:.2}×) |",
            seen.complete,
            seen.subscribers,
            lat.len(),
            percentile(&lat, 50.0),
            percentile(&lat, 100.0),
            p99 / FANOUT_P99_TARGET_MS
        );
    }
    let ours = percentile(&sorted(fanout.latencies_ms.clone()), 99.0);
    let base = percentile(&sorted(floor.latencies_ms.clone()), 99.0);
    println!("fan-out p99, Pilothouse / baseline: {:.2}×", ours / base);
    println!(
        "(delivery = the event's own `at` to the moment the subscriber parsed it; the slowest \
         Pilothouse subscriber connected {:.2} s after its request)",
        fanout.connect_seconds
    );
}

/// Chromium processes still alive with an argument naming the benchmark's temp dir (read by the
/// tests' `/proc` scanner), given up to 5 s to exit.
async fn leftover_browsers(dir: &Path) -> usize {
    let dir = dir.to_path_buf();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let scan = dir.clone();
        let count = tokio::task::spawn_blocking(move || procs::processes_with_arg(&scan).len())
            .await
            .unwrap_or(0);
        if count == 0 || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
