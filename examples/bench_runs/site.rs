//! The two-page site every system of the benchmark drives, served by the benchmark itself on
//! 127.0.0.1, and the ten steps of the workload (issue 11) named once for every table.

use std::net::SocketAddr;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

/// What the workload's `extract` must read: proof that the steps before it really ran.
pub(crate) const GREETING: &str = "Hello, Ada";

/// The ten steps, in order, as the per-action table names them.
pub(crate) const STEP_NAMES: [&str; 10] = [
    "goto",
    "select",
    "click (navigates)",
    "type",
    "click",
    "wait_for (400 ms)",
    "extract",
    "evaluate",
    "screenshot",
    "goto (2nd)",
];

/// JPEG quality of the workload's screenshot: Pilothouse's default `screenshot_quality`, so
/// every system encodes the same image.
pub(crate) const SCREENSHOT_QUALITY: i64 = 55;

/// Page 1: a `<select>` to choose from and a link that navigates to the form.
const START_PAGE: &str = r#"<!doctype html><html><head><title>Bench start</title></head>
<body><select id="pick"><option value="a">A</option><option value="b">B</option>
<option value="c">C</option></select>
<a id="next" href="/form">to the form</a></body></html>"#;

/// Page 2: an input, and a button whose click adds `#out` 400 ms later.
const FORM_PAGE: &str = r#"<!doctype html><html><head><title>Bench form</title></head><body>
<input id="name"> <button id="go" type="button">Go</button>
<script>
document.getElementById('go').addEventListener('click', () => {
  const name = document.getElementById('name').value;
  setTimeout(() => {
    const out = document.createElement('div');
    out.id = 'out';
    out.textContent = 'Hello, ' + name;
    document.body.appendChild(out);
    document.title = 'Greeted ' + name;
  }, 400);
});
</script></body></html>"#;

/// Serves the site on an ephemeral 127.0.0.1 port until the program ends.
pub(crate) async fn serve_site() -> anyhow::Result<SocketAddr> {
    fn html(body: &'static str) -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body)
    }
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { html(START_PAGE) }))
        .route("/form", axum::routing::get(|| async { html(FORM_PAGE) }))
        .route(
            "/favicon.ico",
            axum::routing::get(|| async { StatusCode::NO_CONTENT }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("site server stopped: {e}");
        }
    });
    Ok(addr)
}
