//! Benchmark: the run store's durable costs — the file store beside the PostgreSQL store that
//! several nodes share, each beside a bare floor of its own medium — and how late a node that
//! does not own a run sees its events.
//!
//! ```text
//! cargo run --release --example bench_store -- [--submits 200] [--events 500] [--tail-events 200] [--pg-url URL]
//! ```
//!
//! It starts a throwaway PostgreSQL with `scripts/pg-cluster.sh` (Debian's `postgresql`,
//! installed when missing; fsync and synchronous commit on, as shipped) and removes it at the
//! end, on error and on Ctrl-C too; `--pg-url URL` uses a server of yours instead (a user that
//! may `CREATE DATABASE`: each section makes a fresh database, dropped at the end). File store
//! runs go to a temp dir on this machine's disk.
//!
//! 1. **Durable submits per second** (`submits.rs`): what admission makes durable before it
//!    answers, sequential and with 8 concurrent submitters.
//! 2. **Per-event write cost** (`events.rs`): events through `RunStore::open_log`, batched and
//!    each synced.
//! 3. **Cross-node live-tail delay** (`tail.rs`): two nodes on one database; p50/p99/max from
//!    the owner's append to the other node's read, woken by NOTIFY and by polling.
//!
//! It prints tables and never asserts a timing: compare ratios within one invocation (the
//! machine may be shared).

mod cluster;
mod events;
mod report;
mod stores;
mod submits;
mod tail;

use std::time::Duration;

use anyhow::{Context, bail};

use cluster::Cluster;

/// The pace of the owner's appends in the tail section: a brisk run's events.
const TAIL_PACE: Duration = Duration::from_millis(10);

#[derive(Debug)]
struct Args {
    submits: usize,
    events: usize,
    tail_events: usize,
    pg_url: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        submits: 200,
        events: 500,
        tail_events: 200,
        pg_url: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .with_context(|| format!("{flag} needs a positive number, not {v:?}"))
        };
        match flag.as_str() {
            "--submits" => args.submits = number(value()?)?,
            "--events" => args.events = number(value()?)?,
            "--tail-events" => args.tail_events = number(value()?)?,
            "--pg-url" => args.pg_url = Some(value()?),
            other => bail!(
                "unknown argument {other}; use --submits N --events N --tail-events N --pg-url URL"
            ),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // The guard stops and removes a cluster this program started when it drops: after the
    // run, and on every error path below (`?` returns through it).
    let cluster = Cluster::start(args.pg_url.clone())?;
    let outcome = tokio::select! {
        outcome = run(&args, &cluster) => outcome,
        interrupted = tokio::signal::ctrl_c() => {
            interrupted?;
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    cluster.drop_databases().await;
    drop(cluster);
    outcome
}

async fn run(args: &Args, cluster: &Cluster) -> anyhow::Result<()> {
    print_machine(cluster).await?;
    let submits = submits::measure(cluster, args.submits).await?;
    let events = events::measure(cluster, args.events).await?;
    let tail = tail::measure(cluster, args.tail_events, TAIL_PACE).await?;
    submits::print(&submits, args.submits);
    events::print(&events, args.events);
    tail::print(&tail, args.tail_events, TAIL_PACE);
    println!("\nload average at the end: {}", load_average());
    Ok(())
}

async fn print_machine(cluster: &Cluster) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = load_average();
    println!("# bench_store: the run store, file vs PostgreSQL\n");
    println!("machine: {cpus} CPUs, load average {load}");
    println!(
        "PostgreSQL ({}): {}",
        if cluster.is_own() {
            "a throwaway cluster on 127.0.0.1"
        } else {
            "--pg-url"
        },
        cluster.describe().await?
    );
    println!("file store: {}", std::env::temp_dir().display());
    Ok(())
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
