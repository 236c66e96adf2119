//! Operations routes: liveness (`/health`), readiness with pressure (`/ready`), Prometheus
//! metrics (`/metrics`) and the OpenAPI document (`/openapi.json`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// The OpenAPI 3 document of the API, checked against the route table by a test.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// `GET /health`: the process answers.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready`: 200 when Chromium can be found and the server admits runs, else 503; the body
/// carries the pressure (running, queued, capacity, queue_capacity) either way.
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let chromium = state.config.resolve_chromium().map_err(|e| e.to_string());
    let stats = state.handle.stats().await.ok();
    let shutting_down = state.shutting_down();
    let pool = stats.as_ref().and_then(|s| s.pool.clone());
    // With context isolation the default, a run waits for a warm browser: not ready until one
    // is up.
    let pool_ready = pool.as_ref().is_none_or(|p| {
        p.ready || state.config.browser.isolation == pilothouse::Isolation::Process
    });
    let ready = chromium.is_ok() && stats.is_some() && !shutting_down && pool_ready;
    let (running, queued, in_memory) =
        stats.map_or((0, 0, 0), |s| (s.active, s.queued, s.runs_in_memory));
    let pool = pool.map(|p| {
        json!({
            "isolation": p.isolation,
            "processes": p.processes,
            "starting": p.starting,
            "spare_contexts": p.spare_contexts,
            "leased": p.leased,
            "contexts_served": p.contexts_served,
            "recycled": p.recycled,
            "crashed": p.crashed,
            "ready": p.ready,
            "last_error": p.last_error,
        })
    });
    let body = json!({
        "ready": ready,
        "shutting_down": shutting_down,
        "chromium": chromium.err().unwrap_or_else(|| "found".into()),
        "running": running,
        "queued": queued,
        "capacity": state.config.max_concurrent_runs,
        "queue_capacity": state.config.queue_capacity,
        "runs_in_memory": in_memory,
        "pool": pool,
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /metrics`: every `pilothouse_*` metric in the Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::routes::ROUTES;
    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| *k != "parameters")
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.verb.name().to_owned(), r.path.replace("{*", "{")))
            .collect();
        assert_eq!(documented, served);
        for route in ROUTES {
            let op = &doc["paths"][route.path.replace("{*", "{")][route.verb.name()];
            let open = op["security"] == json!([]);
            assert_eq!(
                open,
                route.public,
                "security of {} {}",
                route.verb.name(),
                route.path
            );
        }
    }
}
