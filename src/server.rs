//! `pilothouse serve`: the HTTP API over one embedded orchestrator — submit, watch (SSE), cancel
//! and list runs, fetch recordings, and scrape metrics. Shutdown is orderly: on SIGTERM or
//! Ctrl-C the server stops admitting, lets running runs finish within the grace period, cancels
//! the rest (at once on a second signal), ends every stream after its terminal event, and
//! exits 0.
//!
//! Layout: `routes.rs` (the route table), `runs.rs` + `dry_run.rs` (run handlers), `body.rs`
//! (a run request's body, read and parsed for both), `sse.rs` (event streams), `recording.rs`
//! (recording files), `ops.rs` (health, readiness, metrics, OpenAPI), `auth.rs` (bearer token),
//! `errors.rs` (the error body), `query.rs` (query strings).

mod auth;
mod body;
mod dry_run;
mod errors;
mod frames;
mod ops;
mod query;
mod recording;
mod routes;
mod runs;
mod sse;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pilothouse::{Config, Orchestrator, OrchestratorHandle, Secret};
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::host::{EXIT_COMPLETED, EXIT_FAILED, EXIT_INVALID, Interrupts, interrupts, load_config};
use errors::ApiError;

/// How long the HTTP server may take to close its connections once every run has ended.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// Arguments of `pilothouse serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML config file (see config/default.toml, section [server]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on (overrides [server] bind); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
}

/// Where the server is in its life: serving, draining runs, or ending its streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving,
    /// Shutting down: no new runs, `/ready` is 503, running runs are finishing.
    Draining,
    /// Every run has ended: the firehose `/events` streams end too.
    Stopped,
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) handle: OrchestratorHandle,
    pub(crate) config: Arc<Config>,
    pub(crate) api_key: Option<Arc<Secret>>,
    pub(crate) phase: watch::Receiver<Phase>,
    pub(crate) metrics: PrometheusHandle,
    /// Each recent event's JSON, serialized once for all its SSE streams.
    pub(crate) frames: Arc<frames::FrameCache>,
}

impl AppState {
    /// True once shutdown has begun.
    pub(crate) fn shutting_down(&self) -> bool {
        *self.phase.borrow() != Phase::Serving
    }
}

/// What `prepare` checked: the config, the address, the API key and the CORS layer.
type Prepared = (Config, SocketAddr, Option<Secret>, Option<CorsLayer>);

/// Runs the command; returns the exit code.
pub(crate) async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let prepared = match prepare(&args) {
        Ok(prepared) => prepared,
        Err(message) => {
            say_err!("error: {message}");
            return Ok(EXIT_INVALID);
        }
    };
    let mut signals = interrupts()?;
    let mut running = start(prepared).await?;
    let failed = tokio::select! {
        _ = signals.recv() => None,
        result = &mut running.http => Some(match result {
            Ok(Ok(())) => "the HTTP server stopped by itself".to_owned(),
            Ok(Err(error)) => format!("the HTTP server failed: {error}"),
            Err(error) => format!("the HTTP server task failed: {error}"),
        }),
    };
    if let Some(message) = &failed {
        say_err!("error: {message}; shutting down");
    }
    running.drain(&mut signals).await;
    Ok(if failed.is_some() {
        EXIT_FAILED
    } else {
        EXIT_COMPLETED
    })
}

/// A started server: the orchestrator, the HTTP task and the switches that stop them.
struct Running {
    orchestrator: Orchestrator,
    phase: watch::Sender<Phase>,
    stop_http: tokio::sync::oneshot::Sender<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    grace: Duration,
}

/// Binds, starts the orchestrator and the HTTP server, and prints the listening line.
async fn start((config, addr, api_key, cors): Prepared) -> anyhow::Result<Running> {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let orchestrator = Orchestrator::start(config.clone())
        .await
        .context("cannot start the orchestrator")?;
    // Runs admitted from the first request find a warm browser (bounded: /ready tells the rest).
    let warm_within = Duration::from_millis(config.timeouts.launch_ms);
    if !orchestrator.handle().pool_warm(warm_within).await {
        tracing::warn!("the browser pool is not warm yet; /ready answers 503 until it is");
    }
    let (phase, phase_rx) = watch::channel(Phase::Serving);
    let auth = api_key.is_some();
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let state = AppState {
        handle: orchestrator.handle(),
        config: Arc::new(config),
        api_key: api_key.map(Arc::new),
        phase: phase_rx,
        metrics,
        frames: Arc::default(),
    };
    let (stop_http, stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(
        axum::serve(listener, app(state, cors))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    say!("pilothouse listening on http://{local}");
    {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
    if auth {
        say_err!("every route but /health, /ready and /openapi.json needs the bearer token");
    } else {
        say_err!("no API key: open to anyone on this machine (loopback only)");
    }
    Ok(Running {
        orchestrator,
        phase,
        stop_http,
        http,
        grace,
    })
}

impl Running {
    /// Stops admitting, lets runs finish within the grace period (a second signal cancels them
    /// at once), ends the streams, then closes the HTTP server.
    async fn drain(self, signals: &mut Interrupts) {
        let grace = self.grace;
        say_err!("shutting down: no new runs; running runs have {grace:?} to finish");
        self.phase.send_replace(Phase::Draining);
        let handle = self.orchestrator.handle();
        let shutdown = self.orchestrator.shutdown(grace);
        tokio::pin!(shutdown);
        let report = loop {
            tokio::select! {
                report = &mut shutdown => break report,
                _ = signals.recv() => {
                    say_err!("second signal: cancelling the running runs now");
                    cancel_unfinished(&handle).await;
                }
            }
        };
        say_err!(
            "runs ended: {} finished within the grace period, {} cancelled",
            report.finished_in_grace,
            report.cancelled
        );
        self.phase.send_replace(Phase::Stopped);
        let _ = self.stop_http.send(());
        if tokio::time::timeout(HTTP_DRAIN, self.http).await.is_err() {
            say_err!("connections still open after {HTTP_DRAIN:?}; closing them");
        }
    }
}

/// Cancels every run not yet finished (a second SIGTERM or Ctrl-C cuts the grace period short).
async fn cancel_unfinished(handle: &OrchestratorHandle) {
    for status in handle.list().await.unwrap_or_default() {
        if !status.state.is_terminal() {
            let _ = handle.cancel(status.run_id).await;
        }
    }
}

/// The config, the address, the API key and the CORS layer, or why the server must not start.
fn prepare(args: &ServeArgs) -> Result<Prepared, String> {
    let mut config = load_config(args.config.as_deref(), None)?;
    if let Some(bind) = &args.bind {
        config.server.bind = bind.clone();
    }
    let addr: SocketAddr = config.server.bind.parse().map_err(|_| {
        format!(
            "server.bind / --bind: `{}` is not an address; use IP:PORT, e.g. 127.0.0.1:8787",
            config.server.bind
        )
    })?;
    let api_key = config.server.resolve_api_key();
    if api_key.is_none() && !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to listen on {addr} without an API key: anyone who can reach it could \
             start browsers. Set [server] api_key or PILOTHOUSE_API_KEY, or bind to loopback \
             (--bind 127.0.0.1:{})",
            addr.port()
        ));
    }
    let cors = cors_layer(&config.server.cors_origins)?;
    Ok((config, addr, api_key, cors))
}

/// CORS for the configured origins; `None` (CORS off) when there are none.
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let mut allowed = Vec::with_capacity(origins.len());
    for (i, origin) in origins.iter().enumerate() {
        let valid = url::Url::parse(origin)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.path() == "/")
            .and_then(|_| HeaderValue::from_str(origin.trim_end_matches('/')).ok());
        allowed.push(valid.ok_or_else(|| {
            format!(
                "server.cors_origins[{i}]: `{origin}` is not an origin; use scheme://host[:port], \
                 e.g. https://ops.example.com"
            )
        })?);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::RETRY_AFTER, header::LOCATION]),
    ))
}

/// The whole application: routes, JSON fallbacks, the body limit and CORS.
fn app(state: AppState, cors: Option<CorsLayer>) -> Router {
    let limit = state.config.server.max_body_bytes;
    let router = routes::router(&state)
        .fallback(|uri: Uri| async move { ApiError::no_route(uri.path()).into_response() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
        .layer(DefaultBodyLimit::max(limit))
        // Method, path and status at DEBUG (`RUST_LOG=tower_http=debug`); never headers, so
        // never the bearer token.
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}
