//! `GET /runs/{id}/recording/{*path}`: the files of a run's recording (`manifest.json`,
//! `screenshots/0001_goto.jpg`, `report.html`, ...). A path must stay inside the recording: it is
//! checked lexically (no `..`, no absolute path, no backslash) and again after resolving
//! symlinks, so a link planted in the folder cannot point out of it.

use std::io::ErrorKind;
use std::path::{Component, Path as FsPath, PathBuf};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pilothouse::RunId;

use super::AppState;
use super::errors::ApiError;
use super::runs::run_id;

/// Serves one recording file with its content type.
pub(crate) async fn file(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, rel)) =
        path.map_err(|e| ApiError::invalid_path("", &format!("cannot decode it ({e})")))?;
    let run_id = run_id(&id)?;
    let rel = relative(&rel)?;
    let status = match state.handle.status(run_id).await {
        Ok(Some(status)) => status,
        Ok(None) => return Err(ApiError::run_not_found(&id)),
        Err(_) => return Err(ApiError::shutting_down()),
    };
    let dir = status.recording.map_or_else(
        || {
            state
                .config
                .runs_dir
                .join(run_id.to_string())
                .join("recording")
        },
        |r| r.local_dir,
    );
    let target = inside(&dir, &rel, run_id).await?;
    let bytes = tokio::fs::read(&target).await.map_err(|e| match e.kind() {
        ErrorKind::NotFound | ErrorKind::IsADirectory => {
            ApiError::recording_not_found(run_id, &rel.to_string_lossy())
        }
        _ => ApiError::internal(format!("cannot read the recording file: {e}")),
    })?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&target)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The report's own script runs, but in an opaque origin: it cannot call this API.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox allow-scripts"),
    );
    Ok(response)
}

/// The decoded path as plain relative components, or 400 naming what is wrong with it.
fn relative(raw: &str) -> Result<PathBuf, ApiError> {
    let reject = |why: &str| Err(ApiError::invalid_path(raw, why));
    if raw.is_empty() {
        return reject("it is empty");
    }
    if raw.contains('\\') || raw.contains('\0') {
        return reject("backslashes and NUL bytes are not allowed");
    }
    let path = FsPath::new(raw);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::Prefix(_) => return reject("it is absolute"),
            Component::ParentDir | Component::CurDir => {
                return reject("`..` and `.` segments are not allowed");
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return reject("it names no file");
    }
    Ok(clean)
}

/// `dir/rel` with symlinks resolved, if it stays inside `dir`.
async fn inside(dir: &FsPath, rel: &FsPath, run_id: RunId) -> Result<PathBuf, ApiError> {
    let missing = || ApiError::recording_not_found(run_id, &rel.to_string_lossy());
    let base = tokio::fs::canonicalize(dir).await.map_err(|_| missing())?;
    let target = tokio::fs::canonicalize(base.join(rel))
        .await
        .map_err(|_| missing())?;
    if target.starts_with(&base) {
        Ok(target)
    } else {
        Err(ApiError::invalid_path(
            &rel.to_string_lossy(),
            "it resolves outside the recording",
        ))
    }
}

/// The content type of a recording file, by extension.
fn content_type(path: &FsPath) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("jsonl") => "application/x-ndjson",
        Some("html") => "text/html; charset=utf-8",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert_eq!(
            relative("screenshots/0001_goto.jpg").unwrap(),
            PathBuf::from("screenshots/0001_goto.jpg")
        );
        for bad in [
            "../status.json",
            "a/../../b",
            "/etc/passwd",
            "a\\..\\b",
            "./x",
            "",
        ] {
            assert!(relative(bad).is_err(), "{bad}");
        }
    }
}
