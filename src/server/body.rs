//! The body of a `POST /runs` or `POST /runs/dry-run`: read as text within
//! `[server] max_body_bytes`, then parsed as a run request. Shared by both handlers (`runs.rs`,
//! `dry_run.rs`), so the dry run answers exactly what a submit would.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use pilothouse::{FieldError, InvalidRequest, RunRequest};

use super::AppState;
use super::errors::ApiError;

/// The request body as text: 413 past `[server] max_body_bytes`, 422 when it is not UTF-8.
pub(crate) fn body_text(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.config.server.max_body_bytes)
        } else {
            ApiError::invalid_field("request", format!("cannot read the body: {rejection}"))
        }
    })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::invalid_field("request", "the body is not UTF-8 JSON"))
}

/// The request in `text`, which must be a JSON object (serde would take an array as the
/// struct's fields in order and name `[0]`, which helps nobody).
pub(crate) fn parse_request(text: &str) -> Result<RunRequest, InvalidRequest> {
    if !text.trim_start().starts_with('{') {
        return Err(InvalidRequest {
            errors: vec![FieldError {
                field: "request".into(),
                message: "must be a JSON object (a run request, see GET /openapi.json)".into(),
            }],
        });
    }
    RunRequest::from_json(text)
}
