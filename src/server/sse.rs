//! Server-sent events: one run's events (`/runs/{id}/events`, alias `/stream`) and every run's
//! (`/events`). Each event is `id: <seq>`, `event: <type>`, `data: <RunEvent JSON>`; a
//! `Last-Event-ID` header or `?after=N` resumes after that seq with no gap and no duplicate
//! (the engine replays its log, then follows live); `?follow=false` ends after the events
//! logged when the request arrived (a replay, for clients that only read). Heartbeats are comments without an `id:`,
//! so they never move a client's resume point.

use std::convert::Infallible;
use std::future::Future as _;
use std::task::Poll;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use pilothouse::{EventsError, RunEvent};
use tokio::sync::watch;

use super::errors::ApiError;
use super::frames::FrameCache;
use super::runs::run_id_param;
use super::{AppState, Phase, query};

/// `GET /runs/{id}/events`: the run's events after the resume point, ending after `finished`.
pub(crate) async fn run_events(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (id, run_id) = run_id_param(path)?;
    let pairs = query::pairs(raw.as_deref());
    query::only_known(&pairs, &["after", "follow"])?;
    let after = resume_point(&headers, &pairs)?;
    let follow = query::parsed(&pairs, "follow", "true or false")?.unwrap_or(true);
    // Replay only: the events logged so far. Seqs have no gaps, so they are the next
    // `last_seq - after` events of the stream.
    let replay = if follow {
        None
    } else {
        let status = state.handle.status(run_id).await.ok().flatten();
        let status = status.ok_or_else(|| ApiError::run_not_found(&id))?;
        Some(status.last_seq.saturating_sub(after) as usize)
    };
    let events = match state.handle.events(run_id, after).await {
        Ok(events) => events,
        Err(EventsError::NotFound(_)) => return Err(ApiError::run_not_found(&id)),
        Err(_) => return Err(ApiError::shutting_down()),
    };
    Ok(match replay {
        Some(count) => sse_response(&state, events.take(count)),
        None => sse_response(&state, events),
    })
}

/// `GET /events`: every run's events from now on, until the server has stopped.
pub(crate) async fn all_events(State(state): State<AppState>) -> Result<Response, ApiError> {
    let events = state
        .handle
        .subscribe_all()
        .await
        .map_err(|_| ApiError::shutting_down())?;
    Ok(sse_response(
        &state,
        until_stopped(events, state.phase.clone()),
    ))
}

/// `events` until the server has stopped, and then the events already delivered to it: every
/// run's terminal event is broadcast before shutdown returns, so none is cut off (a plain
/// `take_until` would drop what is buffered).
fn until_stopped(
    mut events: impl Stream<Item = RunEvent> + Send + Unpin + 'static,
    mut phase: watch::Receiver<Phase>,
) -> impl Stream<Item = RunEvent> + Send + 'static {
    let mut stopped = Box::pin(async move {
        let _ = phase.wait_for(|p| *p == Phase::Stopped).await;
    });
    let mut stopping = false;
    futures::stream::poll_fn(move |cx| {
        if !stopping && stopped.as_mut().poll(cx).is_ready() {
            stopping = true;
        }
        match events.poll_next_unpin(cx) {
            Poll::Pending if stopping => Poll::Ready(None),
            other => other,
        }
    })
}

/// Where a client resumes: `Last-Event-ID` (as browsers send it on reconnect; a value that is
/// not a seq counts as 0, as in the reference), else `?after=N`, else from the start.
fn resume_point(headers: &HeaderMap, pairs: &[(String, String)]) -> Result<u64, ApiError> {
    if let Some(value) = headers.get("last-event-id") {
        return Ok(value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0));
    }
    Ok(query::parsed(pairs, "after", "a seq (a whole number)")?.unwrap_or(0))
}

/// One SSE frame per event (its JSON shared through the frame cache), heartbeats every
/// `[server] heartbeat_seconds`, no HTTP caching.
fn sse_response(
    state: &AppState,
    events: impl Stream<Item = RunEvent> + Send + 'static,
) -> Response {
    let heartbeat = Duration::from_secs(state.config.server.heartbeat_seconds);
    let cache = state.frames.clone();
    let frames = events.map(move |event| Ok::<_, Infallible>(frame(&event, &cache)));
    let mut response = Sse::new(frames)
        .keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn frame(event: &RunEvent, cache: &FrameCache) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .event(event.kind.type_name())
        .data(&*cache.json(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_wins_over_after_and_garbage_counts_as_zero() {
        let q = |raw: &str| query::pairs(Some(raw));
        let mut headers = HeaderMap::new();
        assert_eq!(resume_point(&headers, &q("after=7")).unwrap(), 7);
        assert_eq!(resume_point(&headers, &q("")).unwrap(), 0);
        assert!(resume_point(&headers, &q("after=x")).is_err());
        headers.insert("last-event-id", HeaderValue::from_static("12"));
        assert_eq!(resume_point(&headers, &q("after=7")).unwrap(), 12);
        headers.insert("last-event-id", HeaderValue::from_static("nope"));
        assert_eq!(resume_point(&headers, &q("")).unwrap(), 0);
    }
}
