//! The run handlers: submit, list, status and cancel. Each parses its input, asks the
//! orchestrator's handle, and maps the answer to JSON or to an `ApiError`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pilothouse::{CancelAck, CancelError, FieldError, ListQuery, RunId, RunState, SubmitError};
use serde_json::{Value, json};

use super::body::{body_text, parse_request};
use super::errors::ApiError;
use super::{AppState, dry_run, query};

/// Runs on a page of `GET /runs` unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 50;
/// The largest `limit` of `GET /runs`.
const MAX_PAGE: usize = 500;

/// The run id of a path segment; anything that is not one names no run (404).
pub(crate) fn run_id(segment: &str) -> Result<RunId, ApiError> {
    segment
        .parse()
        .map_err(|_| ApiError::run_not_found(segment))
}

/// The `{id}` of a route and its run id; a segment that does not even decode (not UTF-8) names
/// no run either.
pub(crate) fn run_id_param(
    path: Result<Path<String>, PathRejection>,
) -> Result<(String, RunId), ApiError> {
    let Path(id) = path.map_err(|_| ApiError::run_not_found("(not UTF-8)"))?;
    let run_id = run_id(&id)?;
    Ok((id, run_id))
}

/// `/runs/{id}` and `/runs/{id}/events`, relative to the server.
pub(crate) fn urls(run_id: RunId) -> (String, String) {
    (format!("/runs/{run_id}"), format!("/runs/{run_id}/events"))
}

/// `POST /runs`: parses, validates and admits a run; 201 with its id and URLs.
pub(crate) async fn submit(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if state.shutting_down() {
        return Err(ApiError::shutting_down());
    }
    let text = body_text(&state, body)?;
    let request = parse_request(&text).map_err(|e| ApiError::invalid(&e.errors))?;
    let run_id = state
        .handle
        .submit(request)
        .await
        .map_err(|e| submit_error(&state, e))?;
    let (status_url, events_url) = urls(run_id);
    let body = json!({
        "run_id": run_id,
        "state": RunState::Queued,
        "status_url": status_url,
        "events_url": events_url,
    });
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, status_url)],
        Json(body),
    )
        .into_response())
}

fn submit_error(state: &AppState, error: SubmitError) -> ApiError {
    match error {
        SubmitError::Invalid(invalid) => ApiError::invalid(&invalid.errors),
        e @ SubmitError::QueueFull { .. } => {
            ApiError::queue_full(e.to_string(), state.config.server.retry_after_seconds)
        }
        SubmitError::ShuttingDown | SubmitError::Unavailable => ApiError::shutting_down(),
        other => ApiError::internal(other.to_string()),
    }
}

/// `POST /runs/dry-run`: what `POST /runs` would say, without starting anything.
pub(crate) async fn dry_run(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let text = body_text(&state, body)?;
    Ok(Json(dry_run::report(&text, &state.config)))
}

/// `GET /runs/{id}`: the live status, else the stored one.
pub(crate) async fn status(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, run_id) = run_id_param(path)?;
    match state.handle.status(run_id).await {
        Ok(Some(status)) => Ok(Json(status).into_response()),
        Ok(None) => Err(ApiError::run_not_found(&id)),
        Err(_) => Err(ApiError::shutting_down()),
    }
}

/// `POST /runs/{id}/cancel` (and `/stop`): cancels a queued or running run.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let (id, run_id) = run_id_param(path)?;
    let ack = match state.handle.cancel(run_id).await {
        Ok(ack) => ack,
        Err(CancelError::NotFound(_)) => return Err(ApiError::run_not_found(&id)),
        Err(_) => return Err(ApiError::shutting_down()),
    };
    let current = state.handle.status(run_id).await.ok().flatten();
    Ok(Json(json!({
        "run_id": run_id,
        "state": current.map(|s| s.state),
        "cancel": match ack {
            CancelAck::AlreadyFinished => "already_finished",
            _ => "cancelling",
        },
    })))
}

/// `GET /runs?state=S&label=k:v&limit=N&cursor=ID`: newest first, one page.
pub(crate) async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = list_query(&query::pairs(raw.as_deref()))?;
    let page = state
        .handle
        .list_page(query)
        .await
        .map_err(|_| ApiError::shutting_down())?;
    Ok(Json(
        json!({"runs": page.runs, "next_cursor": page.next_cursor}),
    ))
}

fn list_query(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    query::only_known(pairs, &["state", "label", "limit", "cursor"])?;
    let state = match pairs.iter().rev().find(|(k, _)| k == "state") {
        None => None,
        Some((_, value)) => Some(
            serde_json::from_value::<RunState>(Value::String(value.clone())).map_err(|_| {
                ApiError::invalid_field(
                    "state",
                    format!(
                        "`{value}` is not a state; use queued, starting, running, completed, \
                         failed, timed_out, cancelled or interrupted"
                    ),
                )
            })?,
        ),
    };
    let mut labels = BTreeMap::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "label") {
        let Some((key, value)) = value.split_once(':') else {
            return Err(ApiError::invalid(&[FieldError {
                field: "label".into(),
                message: format!("`{value}` is not key:value, e.g. label=team:search"),
            }]));
        };
        labels.insert(key.to_owned(), value.to_owned());
    }
    let limit = query::parsed::<usize>(pairs, "limit", "a number")?.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let cursor = query::parsed::<RunId>(pairs, "cursor", "a run id (the previous next_cursor)")?;
    Ok(ListQuery {
        state,
        labels,
        limit,
        cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        query::pairs(Some(raw))
    }

    #[test]
    fn list_queries_parse_repeated_labels_and_name_bad_parameters() {
        let q = list_query(&pairs("state=running&label=a:1&label=b:x%3Ay&limit=5")).unwrap();
        assert_eq!(q.state, Some(RunState::Running));
        assert_eq!(q.labels["a"], "1");
        assert_eq!(q.labels["b"], "x:y");
        assert_eq!(q.limit, 5);
        for (raw, field) in [
            ("state=done", "state"),
            ("label=nocolon", "label"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=x", "limit"),
            ("cursor=nope", "cursor"),
            ("colour=red", "colour"),
        ] {
            let error = format!("{:?}", list_query(&pairs(raw)).unwrap_err());
            assert!(error.contains(&format!("\"{field}\"")), "{raw}: {error}");
        }
    }
}
