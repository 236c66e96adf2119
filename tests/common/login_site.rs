//! A site with a sign-in form, for the saved-session tests: `POST /login` with the right email
//! and password sets an HttpOnly session cookie (`sid`) and lands on `/account?welcome=1`,
//! whose script writes a token into localStorage; `/account` without the cookie redirects to
//! `/login`; `/check?sid=…&token=…` says whether the values it got are the site's. Every
//! request is logged as `METHOD /path (signed in|anonymous)`, so a test can count logins and
//! tell what a browser sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

/// The session cookie's value the site issues.
pub const SESSION_COOKIE: &str = "sid-Qm2Xv9LpR4tZ8wK3nB6hJ";
/// The localStorage token the welcome page writes.
pub const STORAGE_TOKEN: &str = "tok-Hk5Jr8Tq2Wn7Yc4Vb9PzL";
/// The credentials that sign in.
pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct-horse-battery";

const LOGIN_PAGE: &str = r#"<!doctype html><title>Sign in</title><h1>Sign in</h1>
<form method="post" action="/login">
<input type="email" name="email"> <input type="password" name="password">
<button type="submit">Sign in</button></form>"#;

const ACCOUNT_PAGE: &str = r#"<!doctype html><title>Account</title>
<script>
if (new URLSearchParams(location.search).has('welcome')) localStorage.setItem('api_token', 'TOKEN');
</script>
<h1>Account</h1><div id="stored"></div>
<script>
document.getElementById('stored').textContent =
  localStorage.getItem('api_token') === 'TOKEN' ? 'token restored' : 'no token';
const done = document.createElement('p'); done.id = 'signed-in'; done.textContent = 'Signed in as Ada';
document.body.appendChild(done);
</script>"#;

/// The running site.
pub struct LoginSite {
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LoginSite {
    pub async fn serve() -> Self {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = axum::Router::new()
            .route("/login", get(login_page).post(login))
            .route("/account", get(account))
            .route("/check", get(check))
            .layer(axum::middleware::from_fn_with_state(log.clone(), record))
            .with_state(());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, log, task }
    }

    /// Every request so far, `METHOD /path (signed in|anonymous)`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many times the form was posted.
    pub fn logins(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("POST /login"))
            .count()
    }
}

impl Drop for LoginSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn signed_in(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim() == format!("sid={SESSION_COOKIE}"))
}

async fn record(
    State(log): State<Arc<Mutex<Vec<String>>>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let who = if signed_in(req.headers()) {
        "signed in"
    } else {
        "anonymous"
    };
    let line = format!("{} {} ({who})", req.method(), req.uri().path());
    log.lock().unwrap().push(line);
    next.run(req).await
}

/// A signed-in visitor is sent on to the account, as sites do.
async fn login_page(headers: HeaderMap) -> Response {
    match signed_in(&headers) {
        true => Redirect::to("/account").into_response(),
        false => Html(LOGIN_PAGE).into_response(),
    }
}

async fn login(Form(form): Form<HashMap<String, String>>) -> Response {
    let right = form.get("email").map(String::as_str) == Some(EMAIL)
        && form.get("password").map(String::as_str) == Some(PASSWORD);
    if !right {
        return Html(format!("{LOGIN_PAGE}<p>invalid password</p>")).into_response();
    }
    let cookie = format!("sid={SESSION_COOKIE}; HttpOnly; Path=/; Max-Age=3600");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/account?welcome=1"),
    )
        .into_response()
}

async fn account(headers: HeaderMap) -> Response {
    match signed_in(&headers) {
        true => Html(ACCOUNT_PAGE.replace("TOKEN", STORAGE_TOKEN)).into_response(),
        false => Redirect::to("/login").into_response(),
    }
}

async fn check(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let sid = q.get("sid").map(String::as_str) == Some(SESSION_COOKIE);
    let token = q.get("token").map(String::as_str) == Some(STORAGE_TOKEN);
    Html(format!(
        "<!doctype html><p id=\"verdict\">sid {} token {}</p>",
        ok(sid),
        ok(token)
    ))
}

fn ok(matched: bool) -> &'static str {
    if matched { "matches" } else { "differs" }
}
