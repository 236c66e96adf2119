//! The test's own web server: pages served on a loopback address, with a log of every path
//! requested, so a test can tell what a run's browser reached and what it never did.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

impl Site {
    pub async fn serve(pages: Vec<(&str, Page)>) -> Self {
        Self::serve_at("127.0.0.1", pages).await
    }

    /// The same on another loopback address, e.g. `127.0.0.2` for an "outside" host that no
    /// run is allowed to reach.
    pub async fn serve_at(ip: &str, pages: Vec<(&str, Page)>) -> Self {
        let state = SiteState {
            pages: Arc::new(
                pages
                    .into_iter()
                    .map(|(p, page)| (p.to_owned(), page))
                    .collect(),
            ),
            log: Arc::default(),
        };
        let log = state.log.clone();
        let app = axum::Router::new().fallback(serve_page).with_state(state);
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, log, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_page(State(state): State<SiteState>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    state.log.lock().unwrap().push(path.clone());
    match state.pages.get(&path).cloned() {
        Some(Page::Html(body)) => html(body),
        Some(Page::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Some(Page::Slow(delay, body)) => {
            tokio::time::sleep(delay).await;
            html(body)
        }
        None if path == "/favicon.ico" => StatusCode::NO_CONTENT.into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// One page the site serves.
#[derive(Clone)]
pub enum Page {
    Html(String),
    /// 302 to the given location.
    Redirect(String),
    /// Responds after a delay.
    Slow(Duration, String),
}

#[derive(Clone, Default)]
struct SiteState {
    pages: Arc<HashMap<String, Page>>,
    log: Arc<Mutex<Vec<String>>>,
}

/// A small web server on 127.0.0.1 with a log of every path requested.
pub struct Site {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}
