//! A site with a cookie session and a JSON API that requires it, for `api_request` tests:
//! `/login` sets an HttpOnly session cookie (so only the browser, not the page's script, can
//! hand it on); `/api/orders` answers only with that cookie and the `X-Token` header, and
//! echoes both back; `/api/out` and `/api/local` redirect to other hosts; `/api/slow` answers
//! late. Every request is logged with the cookie and token it carried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The session cookie's value.
pub const SESSION: &str = "sess-Qv7/Zk+9w==plum";
/// The API token the run sends from its credentials.
pub const TOKEN: &str = "tok-Hx4&Lr2!mango";

/// One request the API saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: Option<String>,
    pub cookie: Option<String>,
    pub token: Option<String>,
}

#[derive(Clone)]
struct ApiState {
    log: Arc<Mutex<Vec<Seen>>>,
    /// Where `/api/out` and `/api/local` send the client.
    out: String,
    local: String,
}

/// The running API.
pub struct ApiSite {
    pub base: String,
    log: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiSite {
    /// Serves on 127.0.0.1; `out` and `local` are the redirect targets.
    pub async fn serve(out: String, local: String) -> Self {
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let state = ApiState {
            log: log.clone(),
            out,
            local,
        };
        let app = axum::Router::new()
            .route("/login", axum::routing::get(login))
            .route("/api/orders", axum::routing::get(orders))
            .route("/api/out", axum::routing::get(out_redirect))
            .route("/api/local", axum::routing::get(local_redirect))
            .route("/api/slow", axum::routing::get(slow))
            .fallback(other)
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, log, task }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// The paths requested so far.
    pub fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }
}

impl Drop for ApiSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(state): State<ApiState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        cookie: text("cookie"),
        token: text("x-token"),
    };
    state.log.lock().unwrap().push(seen);
    next.run(request).await
}

async fn login() -> Response {
    let cookie = format!("sid={SESSION}; HttpOnly; Path=/");
    (
        [
            (header::SET_COOKIE, cookie),
            (header::CONTENT_TYPE, "text/html".into()),
        ],
        "<!doctype html><title>Signed in</title><p>Welcome back</p>",
    )
        .into_response()
}

/// The session cookie's value in `headers`, if any.
fn session(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies
        .split(';')
        .find_map(|c| c.trim().strip_prefix("sid=").map(str::to_owned))
}

async fn orders(headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    let sid = session(&headers);
    let token = headers
        .get("x-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if sid.as_deref() != Some(SESSION) || token.as_deref() != Some(TOKEN) {
        let body = json!({"error": "sign in first", "sid": sid, "token": token});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    Json(json!({
        "data": {"items": [{"id": "A-17", "total": 42}, {"id": "B-3", "total": 7}]},
        "query": query,
        "echo": {"sid": sid, "token": token}
    }))
    .into_response()
}

async fn out_redirect(State(state): State<ApiState>) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, state.out)]).into_response()
}

async fn local_redirect(State(state): State<ApiState>) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, state.local)],
    )
        .into_response()
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Json(json!({"late": true})).into_response()
}

async fn other(uri: Uri) -> Response {
    let body = format!("<!doctype html><title>{}</title>", uri.path());
    ([(header::CONTENT_TYPE, "text/html")], body).into_response()
}
