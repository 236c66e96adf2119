//! The floor the service benchmark compares against: a bare axum process, run as a separate
//! process of this same program (`bench_service --baseline-server`), that answers a static
//! `/health` and fans pre-serialized SSE events out of one tokio broadcast channel. It does what
//! the measurement needs and nothing else: no engine, no store, no browser. Whatever latency it
//! shows under the same machine load is this machine's, not Pilothouse's.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::broadcast;

/// A frame of about the size of a Pilothouse `action` event.
const PADDING: usize = 300;

#[derive(Clone)]
struct Shared {
    events: broadcast::Sender<(u64, String)>,
}

#[derive(Deserialize)]
struct Start {
    events: u64,
    interval_ms: u64,
}

/// Serves until killed; prints `baseline listening on http://ADDR` first.
pub(crate) async fn serve() -> anyhow::Result<()> {
    let (events, _) = broadcast::channel(1024);
    let shared = Arc::new(Shared { events });
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/events", get(stream))
        .route("/subscribers", get(subscribers))
        .route("/start", post(start))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    use std::io::Write as _;
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn subscribers(State(shared): State<Arc<Shared>>) -> String {
    shared.events.receiver_count().to_string()
}

/// SSE frames `id: seq`, `event: action|finished`, `data: {"seq","at","type",...}`; ends right
/// after `finished`.
async fn stream(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let receiver = Some(shared.events.subscribe());
    let frames = futures::stream::unfold(receiver, |receiver| async move {
        let mut receiver = receiver?;
        let (seq, data) = loop {
            match receiver.recv().await {
                Ok(item) => break item,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        };
        let finished = data.contains("\"type\":\"finished\"");
        let kind = if finished { "finished" } else { "action" };
        let event = Event::default().id(seq.to_string()).event(kind).data(data);
        Some((Ok(event), (!finished).then_some(receiver)))
    });
    Sse::new(frames)
}

/// Emits `events` events, `interval_ms` apart, serialized once each.
async fn start(State(shared): State<Arc<Shared>>, Query(start): Query<Start>) -> &'static str {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(start.interval_ms));
        for seq in 1..=start.events {
            tick.tick().await;
            let kind = if seq == start.events {
                "finished"
            } else {
                "action"
            };
            let data = serde_json::json!({
                "seq": seq,
                "at": chrono::Utc::now(),
                "type": kind,
                "padding": "x".repeat(PADDING),
            })
            .to_string();
            let _ = shared.events.send((seq, data));
        }
    });
    "started"
}
