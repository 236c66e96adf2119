//! The bundled demo site the `demo` command serves on 127.0.0.1: a home page with links, a form
//! whose greeting is computed in JavaScript after a short delay, a filterable products table, a
//! slow page, and a sign-in with an account page and a JSON API behind it (`demo_site/account.rs`).
//! Everything is inline, so the demo needs nothing outside the machine.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod account;

/// The port the example requests in `config/examples/` name.
pub(crate) const EXAMPLES_PORT: u16 = 8080;

/// How long `/slow` takes to answer, server side. Below the examples' navigation timeout (7 s).
const SLOW_PAGE_DELAY: Duration = Duration::from_millis(1200);

/// The demo site, served until dropped.
pub(crate) struct DemoSite {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Whether the requested port was busy and an ephemeral one was taken instead.
    pub(crate) fell_back: bool,
    /// Its sign-ins (see `demo_site/account.rs`).
    pub(crate) accounts: account::Accounts,
    task: JoinHandle<()>,
}

impl DemoSite {
    /// Serves the site on `127.0.0.1:port`; when that port is taken, on an ephemeral port
    /// (`fell_back` says so). Port 0 asks for an ephemeral port directly.
    pub(crate) async fn serve(port: u16) -> std::io::Result<Self> {
        let (listener, fell_back) = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(listener) => (listener, false),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && port != 0 => {
                (TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?, true)
            }
            Err(e) => return Err(e),
        };
        let addr = listener.local_addr()?;
        let accounts = account::Accounts::default();
        let app = routes().merge(account::routes(accounts.clone()));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                say_err!("error: the demo site stopped: {error}");
            }
        });
        Ok(Self {
            addr,
            fell_back,
            accounts,
            task,
        })
    }

    /// The site's base URL, without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Points a request written for `http://127.0.0.1:8080` (or `localhost:8080`) at this site.
    pub(crate) fn rewrite(&self, request_json: &str) -> String {
        rewrite_port(request_json, self.addr.port())
    }
}

/// Replaces the examples' port in `http://127.0.0.1:8080` and `http://localhost:8080` URLs.
fn rewrite_port(request_json: &str, port: u16) -> String {
    request_json
        .replace(
            &format!("http://127.0.0.1:{EXAMPLES_PORT}"),
            &format!("http://127.0.0.1:{port}"),
        )
        .replace(
            &format!("http://localhost:{EXAMPLES_PORT}"),
            &format!("http://localhost:{port}"),
        )
}

impl Drop for DemoSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { Html(HOME_PAGE) }))
        .route("/form", get(|| async { Html(FORM_PAGE) }))
        .route("/products", get(|| async { Html(PRODUCTS_PAGE) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(SLOW_PAGE_DELAY).await;
                Html(SLOW_PAGE)
            }),
        )
        .route("/admin", get(|| async { Html(ADMIN_PAGE) }))
        .route(
            "/favicon.ico",
            get(|| async { StatusCode::NO_CONTENT.into_response() }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain")],
                "not found",
            )
        })
}

const HOME_PAGE: &str = concat!(
    "<!doctype html><html><head><title>Pilothouse demo</title>",
    "<style>body{font-family:sans-serif;margin:2rem}</style></head><body>",
    "<h1>Pilothouse demo site</h1><ul>",
    "<li><a id='to-form' href='/form'>Greeting form</a></li>",
    "<li><a id='to-products' href='/products'>Products</a></li>",
    "<li><a id='to-slow' href='/slow'>Slow report</a></li>",
    "</ul></body></html>"
);

/// Typing a name and clicking Greet shows a greeting computed in JavaScript after 300 ms.
const FORM_PAGE: &str = r#"<!doctype html><html><head><title>Greeting form</title></head><body>
<h1>Greeting form</h1>
<form id="f" onsubmit="return false">
  <label>Name <input id="name" name="name" autocomplete="off"></label>
  <button id="submit" type="button">Greet</button>
</form>
<p id="out" style="display:none"></p>
<script>
document.getElementById('submit').addEventListener('click', () => {
  const name = document.getElementById('name').value.trim() || 'stranger';
  setTimeout(() => {
    const out = document.getElementById('out');
    const lucky = [3, 4, 5].map(x => x * x).reduce((a, b) => a + b);
    out.textContent = 'Hello, ' + name + '! Your lucky number is ' + lucky + '.';
    out.style.display = 'block';
    document.title = 'Greeted ' + name;
  }, 300);
});
</script></body></html>"#;

/// A products table; "In stock only" hides the sold-out rows after a short "filtering" delay.
const PRODUCTS_PAGE: &str = r#"<!doctype html><html><head><title>Products</title></head><body>
<h1>Products</h1>
<button id="in-stock-only" type="button">In stock only</button>
<p id="count">6 products</p>
<table id="products">
<thead><tr><th>Name</th><th>Price</th><th>Stock</th></tr></thead>
<tbody>
<tr data-stock="12"><td>Compass</td><td>24.50</td><td>12</td></tr>
<tr data-stock="0"><td>Sextant</td><td>189.00</td><td>0</td></tr>
<tr data-stock="3"><td>Spyglass</td><td>72.00</td><td>3</td></tr>
<tr data-stock="0"><td>Deck lamp</td><td>9.90</td><td>0</td></tr>
<tr data-stock="40"><td>Rope, 20 m</td><td>18.75</td><td>40</td></tr>
<tr data-stock="7"><td>Chart case</td><td>35.00</td><td>7</td></tr>
</tbody></table>
<script>
document.getElementById('in-stock-only').addEventListener('click', () => {
  setTimeout(() => {
    const rows = Array.from(document.querySelectorAll('#products tbody tr'));
    rows.forEach(r => { r.hidden = r.dataset.stock === '0'; });
    const shown = rows.filter(r => !r.hidden).length;
    document.getElementById('count').textContent = shown + ' products in stock';
  }, 200);
});
</script></body></html>"#;

/// Served after `SLOW_PAGE_DELAY`; its report renders 500 ms after load.
const SLOW_PAGE: &str = r#"<!doctype html><html><head><title>Slow report</title></head><body>
<h1>Slow report</h1>
<p id="loading">Crunching numbers…</p>
<div id="report" style="display:none"></div>
<script>
setTimeout(() => {
  const legs = [12.5, 8.25, 21.0];
  const total = legs.reduce((a, b) => a + b, 0);
  const report = document.getElementById('report');
  report.textContent = 'Voyage: ' + legs.length + ' legs, ' + total.toFixed(2) + ' nautical miles';
  report.style.display = 'block';
  document.getElementById('loading').remove();
}, 500);
</script></body></html>"#;

/// Reachable as `localhost`, which the examples' allow-list does not name: the blocked example
/// must never see it.
const ADMIN_PAGE: &str = "<!doctype html><title>Admin</title><h1>Admin</h1>\
<p>If a demo run reached this page, the domain guardrail did not hold.</p>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_points_both_host_spellings_at_the_site() {
        let json =
            r#"["http://127.0.0.1:8080/a", "http://localhost:8080/b", "http://127.0.0.1:80/c"]"#;
        assert_eq!(
            rewrite_port(json, 41234),
            r#"["http://127.0.0.1:41234/a", "http://localhost:41234/b", "http://127.0.0.1:80/c"]"#
        );
    }
}
