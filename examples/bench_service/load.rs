//! Phase 1 of the service benchmark: runs POSTed as fast as the API takes them while pollers
//! time `GET /runs/{id}` (and the baseline's `/health`); then the leftovers are cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::header;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::{POLL_AFTER_SUBMITS, POLLERS, SUBMITTERS};

pub(crate) struct Load {
    pub(crate) ids: Vec<String>,
    pub(crate) submit_seconds: f64,
    pub(crate) retries_429: usize,
    /// Each status request's start and latency in ms.
    pub(crate) status: Vec<(Instant, f64)>,
    /// The same for the baseline's static `/health`, polled alongside.
    pub(crate) floor: Vec<(Instant, f64)>,
    pub(crate) submits_done: Instant,
}

pub(crate) fn run_request(site: SocketAddr, steps: Value, max_steps: usize) -> Value {
    json!({
        "driver": {"type": "script", "steps": steps},
        "guardrails": {"allow_private_networks": true},
        "limits": {"max_steps": max_steps},
        "labels": {"bench": "service"},
        "start_url": format!("http://{site}/"),
    })
}

pub(crate) async fn submit_and_poll(
    client: &reqwest::Client,
    base: &str,
    floor: &str,
    site: SocketAddr,
    runs: usize,
) -> anyhow::Result<Load> {
    let body = run_request(site, json!([{"action": "evaluate", "script": "1+1"}]), 10);
    let ids = Arc::new(Mutex::new(Vec::with_capacity(runs)));
    let done = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = (0..POLLERS)
        .map(|i| {
            let url = format!("{base}/runs/{{id}}");
            tokio::spawn(poll(client.clone(), url, ids.clone(), done.clone(), i))
        })
        .collect();
    let floor_poller = {
        let url = format!("{floor}/health");
        tokio::spawn(poll(client.clone(), url, ids.clone(), done.clone(), 0))
    };
    let started = Instant::now();
    let retries_429 = submit_all(client, base, &body, &ids, runs).await?;
    let submits_done = Instant::now();
    let submit_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(POLL_AFTER_SUBMITS).await;
    done.store(true, Ordering::SeqCst);
    let mut status = Vec::new();
    for p in pollers {
        status.extend(p.await??);
    }
    let floor = floor_poller.await??;
    let ids = ids.lock().await.clone();
    Ok(Load {
        ids,
        submit_seconds,
        retries_429,
        status,
        floor,
        submits_done,
    })
}

/// `SUBMITTERS` clients POST `body` until `runs` are accepted, pushing each id to `ids`; how
/// many 429s they met in all.
async fn submit_all(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
    ids: &Arc<Mutex<Vec<String>>>,
    runs: usize,
) -> anyhow::Result<usize> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|_| {
            let (client, base, body, ids, next) = (
                client.clone(),
                base.to_owned(),
                body.clone(),
                ids.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                let mut retries = 0;
                while next.fetch_add(1, Ordering::SeqCst) < runs {
                    let (id, r) = submit(&client, &base, &body).await?;
                    retries += r;
                    ids.lock().await.push(id);
                }
                anyhow::Ok(retries)
            })
        })
        .collect();
    let mut retries_429 = 0;
    for s in submitters {
        retries_429 += s.await??;
    }
    Ok(retries_429)
}

/// POSTs one run, retrying on 429; returns its id and how many 429s it met.
pub(crate) async fn submit(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
) -> anyhow::Result<(String, usize)> {
    let mut retries = 0;
    loop {
        let response = client
            .post(format!("{base}/runs"))
            .json(body)
            .send()
            .await?;
        match response.status().as_u16() {
            201 => {
                let created: Value = response.json().await?;
                let id = created["run_id"].as_str().context("no run_id")?.to_owned();
                return Ok((id, retries));
            }
            429 => {
                retries += 1;
                let wait = response
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            other => bail!("POST /runs answered {other}: {}", response.text().await?),
        }
    }
}

/// GETs `url` (`{id}` replaced by a submitted run's id) back to back, once a run is submitted,
/// until `done`; returns when each request began and its latency in ms.
async fn poll(
    client: reqwest::Client,
    url: String,
    ids: Arc<Mutex<Vec<String>>>,
    done: Arc<AtomicBool>,
    offset: usize,
) -> anyhow::Result<Vec<(Instant, f64)>> {
    let mut latencies = Vec::new();
    let mut i = offset;
    while !done.load(Ordering::SeqCst) {
        let id = {
            let ids = ids.lock().await;
            if ids.is_empty() {
                None
            } else {
                Some(ids[i % ids.len()].clone())
            }
        };
        let Some(id) = id else {
            tokio::task::yield_now().await;
            continue;
        };
        i += 7;
        let started = Instant::now();
        let target = url.replace("{id}", &id);
        let response = client.get(&target).send().await?;
        let ok = response.status().is_success();
        let _ = response.bytes().await?;
        latencies.push((started, started.elapsed().as_secs_f64() * 1000.0));
        if !ok {
            bail!("GET {target} failed");
        }
    }
    Ok(latencies)
}

pub(crate) async fn cancel_all(client: &reqwest::Client, base: &str, ids: &[String]) {
    for id in ids {
        let _ = client.post(format!("{base}/runs/{id}/cancel")).send().await;
    }
}

/// Waits until the server reports no running and no queued run.
pub(crate) async fn wait_idle(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ready: Value = client
            .get(format!("{base}/ready"))
            .send()
            .await?
            .json()
            .await?;
        let busy = ready.to_string();
        let running = find_number(&ready, "running");
        let queued = find_number(&ready, "queued");
        if running == Some(0) && queued == Some(0) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server stayed busy: {busy}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The first number under `key` anywhere in a JSON value.
fn find_number(value: &Value, key: &str) -> Option<u64> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_u64)
            .or_else(|| map.values().find_map(|v| find_number(v, key))),
        _ => None,
    }
}
