//! The demo site's signed-in part, for the bundled login and API playbooks: `/login` (a form;
//! the right password sets an HttpOnly `demo_session` cookie; someone signed in goes on to
//! `/account`), `/account` (needs the cookie, else sends the browser to `/login`),
//! `/api/invoices?email=` (JSON, needs the cookie, else 401) and `/api/logins` (how many times
//! someone signed in, so a run that reuses a saved session can show it did not sign in again).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// The demo's account: `config/examples/` hand these to runs as credentials.
pub(crate) const DEMO_USER: &str = "captain@example.com";
pub(crate) const DEMO_PASSWORD: &str = "hunter2-demo";

/// Sessions handed out, by value; and how many sign-ins there were.
#[derive(Clone, Default)]
pub(crate) struct Accounts {
    sessions: Arc<std::sync::Mutex<Vec<String>>>,
    logins: Arc<AtomicU64>,
}

impl Accounts {
    /// How many times someone signed in.
    pub(crate) fn sign_ins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }
}

/// The signed-in routes over `accounts`.
pub(crate) fn routes(accounts: Accounts) -> Router {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/account", get(account))
        .route("/api/invoices", get(invoices))
        .route("/api/logins", get(logins))
        .with_state(accounts)
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// The sign-in form; someone already signed in goes on to `/account`.
async fn login_page(State(accounts): State<Accounts>, headers: HeaderMap) -> Response {
    if signed_in(&accounts, &headers) {
        Redirect::to("/account").into_response()
    } else {
        Html(LOGIN_PAGE).into_response()
    }
}

async fn login(State(accounts): State<Accounts>, Form(form): Form<Credentials>) -> Response {
    if form.email != DEMO_USER || form.password != DEMO_PASSWORD {
        return (StatusCode::UNAUTHORIZED, Html(LOGIN_FAILED)).into_response();
    }
    accounts.logins.fetch_add(1, Ordering::Relaxed);
    // A fresh id per sign-in (a UUID v7: the time and 74 random bits).
    let session = pilothouse::RunId::new().to_string().replace('-', "");
    accounts
        .sessions
        .lock()
        .expect("not poisoned")
        .push(session.clone());
    let cookie = format!("demo_session={session}; Path=/; HttpOnly; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/account")).into_response()
}

/// Whether the request carries a session this site handed out.
fn signed_in(accounts: &Accounts, headers: &HeaderMap) -> bool {
    let sessions = accounts.sessions.lock().expect("not poisoned");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("demo_session="))
        .any(|value| sessions.iter().any(|s| s == value))
}

async fn account(State(accounts): State<Accounts>, headers: HeaderMap) -> Response {
    if signed_in(&accounts, &headers) {
        Html(ACCOUNT_PAGE).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

#[derive(Deserialize)]
struct InvoiceQuery {
    #[serde(default)]
    email: String,
}

async fn invoices(
    State(accounts): State<Accounts>,
    headers: HeaderMap,
    Query(query): Query<InvoiceQuery>,
) -> Response {
    if !signed_in(&accounts, &headers) {
        let body = json!({"error": "sign in first"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let invoices = if query.email == DEMO_USER {
        json!([{"id": "INV-1042", "amount": "129.00", "status": "paid"},
               {"id": "INV-1077", "amount": "54.20", "status": "open"}])
    } else {
        json!([])
    };
    Json(json!({"customer": query.email, "invoices": invoices})).into_response()
}

async fn logins(State(accounts): State<Accounts>) -> Json<serde_json::Value> {
    Json(json!({"logins": accounts.logins.load(Ordering::Relaxed)}))
}

const LOGIN_PAGE: &str = r#"<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form method="post" action="/login">
  <label>Email <input type="email" name="email" autocomplete="username"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form></body></html>"#;

const LOGIN_FAILED: &str = "<!doctype html><title>Sign in</title><h1>Sign in</h1>\
<p id='error'>Wrong email or password.</p><p><a href='/login'>Try again</a></p>";

const ACCOUNT_PAGE: &str = r#"<!doctype html><html><head><title>Your account</title></head><body>
<h1>Your account</h1>
<p id="who">Signed in as Captain Nemo</p>
<p>Invoices: <a href="/api/invoices">as JSON</a></p>
</body></html>"#;
