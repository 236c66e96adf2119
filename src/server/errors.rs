//! The API's one error shape, `{"error": {"code", "message", "details"}}`, and the constructors
//! every handler uses, so a status code always comes with the same machine-readable code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pilothouse::{FieldError, RunId};
use serde_json::{Value, json};

/// An error answer: HTTP status, stable code, a message for people and structured details.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    retry_after_seconds: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after_seconds: None,
        }
    }

    /// 422: the request is invalid; `details.errors` names each field and the fix.
    pub(crate) fn invalid(errors: &[FieldError]) -> Self {
        let message = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            format!("invalid request: {message}"),
        );
        error.details = json!({ "errors": errors });
        error
    }

    /// 422 for one field (a query parameter, a path segment).
    pub(crate) fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(&[FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// 404 for a run id that names no run (or is not a run id at all).
    pub(crate) fn run_not_found(id: &str) -> Self {
        let mut error = Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no run `{id}`; run ids are the UUIDs POST /runs returns"),
        );
        error.details = json!({ "run_id": id });
        error
    }

    /// 404 for a path no route serves.
    pub(crate) fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("no route `{path}`; GET /openapi.json lists the routes"),
        )
    }

    /// 405 for a known path with another method.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "this route does not take that method; GET /openapi.json lists the routes",
        )
    }

    /// 401: no or a wrong bearer token.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing or wrong API key: send `Authorization: Bearer <key>` with the server's \
             [server] api_key / PILOTHOUSE_API_KEY",
        )
    }

    /// 413: the body is larger than `[server] max_body_bytes`.
    pub(crate) fn too_large(limit: usize) -> Self {
        let mut error = Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "the request body is larger than {limit} bytes; shorten it or raise \
                 [server] max_body_bytes"
            ),
        );
        error.details = json!({ "max_body_bytes": limit });
        error
    }

    /// 429: the queue is full; retry after `retry_after_seconds`.
    pub(crate) fn queue_full(message: String, retry_after_seconds: u64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "QUEUE_FULL", message);
        error.details = json!({ "retry_after_seconds": retry_after_seconds });
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// 503: the server is shutting down and admits nothing new.
    pub(crate) fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "the server is shutting down and admits no new runs; retry against another instance",
        )
    }

    /// 400: a recording path that would leave the run's recording.
    pub(crate) fn invalid_path(path: &str, why: &str) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH",
            format!(
                "invalid recording path `{path}`: {why}; use a path inside the recording, e.g. manifest.json"
            ),
        );
        error.details = json!({ "path": path });
        error
    }

    /// 404: the run has no such recording file.
    pub(crate) fn recording_not_found(run_id: RunId, path: &str) -> Self {
        let mut error = Self::new(
            StatusCode::NOT_FOUND,
            "RECORDING_NOT_FOUND",
            format!(
                "run {run_id} has no recording file `{path}`; its manifest.json lists the files"
            ),
        );
        error.details = json!({ "run_id": run_id, "path": path });
        error
    }

    /// 500: something on the server's side failed.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
