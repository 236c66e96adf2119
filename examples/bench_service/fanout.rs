//! Phase 2 of the service benchmark: many SSE subscribers of one stream, on Pilothouse and on
//! the baseline; each event's delivery latency is measured from the event's own `at`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::load::{run_request, submit};
use super::{BASELINE_INTERVAL_MS, FANOUT_ACTIONS};

pub(crate) struct Fanout {
    pub(crate) subscribers: usize,
    pub(crate) events: u64,
    pub(crate) latencies_ms: Vec<f64>,
    pub(crate) complete: usize,
    pub(crate) connect_seconds: f64,
}

pub(crate) async fn fan_out(
    client: &reqwest::Client,
    base: &str,
    site: SocketAddr,
    subscribers: usize,
) -> anyhow::Result<Fanout> {
    let mut steps = vec![json!({"action": "wait_for", "selector": "#late", "timeout_ms": 20000})];
    steps.extend(
        (0..FANOUT_ACTIONS).map(|i| json!({"action": "evaluate", "script": format!("{i}")})),
    );
    let body = run_request(site, Value::Array(steps), FANOUT_ACTIONS + 10);
    let (id, _) = submit(client, base, &body).await?;
    let streams = spawn_subscribers(&format!("{base}/runs/{id}/events"), subscribers);
    collect(streams, subscribers).await
}

/// `n` subscribers of `url`, each on a client (and so a connection) of its own.
fn spawn_subscribers(url: &str, n: usize) -> Vec<tokio::task::JoinHandle<anyhow::Result<Seen>>> {
    (0..n)
        .map(|_| {
            let url = url.to_owned();
            tokio::spawn(async move { subscribe(&reqwest::Client::new(), &url).await })
        })
        .collect()
}

/// The same subscribers on the baseline: connect them all, then have it send `events` events.
pub(crate) async fn baseline_fan_out(
    client: &reqwest::Client,
    base: &str,
    subscribers: usize,
    events: u64,
) -> anyhow::Result<Fanout> {
    let streams = spawn_subscribers(&format!("{base}/events"), subscribers);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let connected: usize = client
            .get(format!("{base}/subscribers"))
            .send()
            .await?
            .text()
            .await?
            .parse()?;
        if connected >= subscribers {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {connected} of {subscribers} subscribers connected to the baseline");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .post(format!(
            "{base}/start?events={events}&interval_ms={BASELINE_INTERVAL_MS}"
        ))
        .send()
        .await?
        .error_for_status()?;
    collect(streams, subscribers).await
}

/// Waits for every subscriber and sums up what they saw.
async fn collect(
    streams: Vec<tokio::task::JoinHandle<anyhow::Result<Seen>>>,
    subscribers: usize,
) -> anyhow::Result<Fanout> {
    let mut latencies_ms = Vec::new();
    let mut complete = 0;
    let mut events = 0;
    let mut connect_seconds: f64 = 0.0;
    for s in streams {
        let seen = s.await??;
        connect_seconds = connect_seconds.max(seen.connected_after.as_secs_f64());
        if seen.complete {
            complete += 1;
        }
        events = events.max(seen.last_seq);
        latencies_ms.extend(seen.latencies_ms);
    }
    Ok(Fanout {
        subscribers,
        events,
        latencies_ms,
        complete,
        connect_seconds,
    })
}

struct Seen {
    connected_after: Duration,
    latencies_ms: Vec<f64>,
    last_seq: u64,
    complete: bool,
}

/// Streams one run's SSE events to the end; checks seqs are 1..=N once each.
async fn subscribe(client: &reqwest::Client, url: &str) -> anyhow::Result<Seen> {
    let began = Instant::now();
    let mut response = client.get(url).send().await?;
    if !response.status().is_success() {
        bail!("GET {url} answered {}", response.status());
    }
    let connected: DateTime<Utc> = Utc::now();
    let connected_after = began.elapsed();
    let mut buffer = String::new();
    let mut latencies_ms = Vec::new();
    let mut last_seq = 0;
    let mut in_order = true;
    let mut finished = false;
    while let Some(chunk) = response.chunk().await? {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            // Read only what the measurement needs, so the client's own parsing stays cheap
            // next to the server's work (a full JSON parse per frame, times 1000, would be the
            // benchmark measuring itself).
            let now = Utc::now();
            let Some(seq) = frame.lines().find_map(|l| l.strip_prefix("id:")) else {
                continue;
            };
            let seq: u64 = seq.trim().parse()?;
            in_order &= seq == last_seq + 1;
            last_seq = seq;
            let at = frame
                .find("\"at\":\"")
                .map(|i| &frame[i + 6..])
                .and_then(|rest| rest.split('"').next())
                .context("an event without `at`")?;
            let at: DateTime<Utc> = at.parse()?;
            if at > connected {
                latencies_ms.push((now - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            }
            finished |= frame.lines().any(|l| l == "event: finished");
        }
    }
    Ok(Seen {
        connected_after,
        latencies_ms,
        last_seq,
        complete: in_order && finished,
    })
}
