//! The run's filtering proxy: request-level guardrails for everything the browser fetches.
//!
//! Chromium is launched with `--proxy-server` pointing here and `--proxy-bypass-list=<-loopback>`
//! (so loopback is not silently bypassed). Every frame, subresource, fetch/XHR, WebSocket and
//! popup of every tab and worker arrives here — as `CONNECT host:port` for TLS and WebSockets, as
//! an absolute-form request for plain HTTP — and is checked with the run's `Guard` before any
//! byte leaves the machine. The proxy also resolves names itself and connects to exactly the
//! addresses it checked, which defeats DNS rebinding. A refused request gets a 403 and a
//! `guardrail_blocked` event; the destination never sees it. Chromium's own background
//! services are refused without an event, whatever the run's scope (see `proxy/services.rs`).
//!
//! (The router issue suggested CDP `Fetch` interception; it needs a separate attach per
//! out-of-process frame, popup and worker and can stall `goto` (chromiumoxide #231). The proxy
//! sees all of them with one mechanism.)

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Host;

use crate::guard::{Block, Guard, Phase};

mod services;

pub(crate) use services::SERVICES_SINK_HOST;
#[cfg(test)]
mod tests;

/// Bound on connecting to a destination.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Receives every refusal, to record it as an event.
pub(crate) type BlockSink = Arc<dyn Fn(&Block, &str) + Send + Sync>;

/// A running proxy; stops (with every connection) when dropped.
#[derive(Debug)]
pub(crate) struct GuardProxy {
    addr: SocketAddr,
    stop: CancellationToken,
    armed: Arc<OnceLock<Armed>>,
}

impl Drop for GuardProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The run a proxy serves, set once: until then (a spare context waiting in the pool, or a
/// pooled browser's own default context) it refuses everything, without a run event.
#[derive(Clone)]
pub(crate) struct Armed {
    pub(crate) run_id: crate::run::RunId,
    pub(crate) guard: Arc<Guard>,
    pub(crate) on_block: BlockSink,
}

impl std::fmt::Debug for Armed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Armed")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Ctx {
    armed: Arc<OnceLock<Armed>>,
    /// When set, connections from any other address are closed unanswered (a remote browser's
    /// proxy listens beyond loopback).
    peers: Option<Arc<[IpAddr]>>,
}

impl GuardProxy {
    /// Listens on an ephemeral loopback port, serving one run.
    pub(crate) async fn start(armed: Armed) -> std::io::Result<Self> {
        let proxy = Self::start_unarmed(IpAddr::from([127, 0, 0, 1]), None).await?;
        proxy.arm(armed);
        Ok(proxy)
    }

    /// Listens on an ephemeral port of `bind`, refusing every request until [`Self::arm`];
    /// with `peers`, only connections from those addresses are served.
    pub(crate) async fn start_unarmed(
        bind: IpAddr,
        peers: Option<Arc<[IpAddr]>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind((bind, 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let armed = Arc::new(OnceLock::new());
        let ctx = Ctx {
            armed: armed.clone(),
            peers,
        };
        tokio::spawn(accept_loop(listener, ctx, stop.clone()));
        Ok(Self { addr, stop, armed })
    }

    /// Hands the proxy to its run; false if it already serves one (it never changes hands).
    pub(crate) fn arm(&self, armed: Armed) -> bool {
        self.armed.set(armed).is_ok()
    }

    /// Where the browser should send its requests.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept_loop(listener: TcpListener, ctx: Ctx, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if ctx.admits_peer(peer.ip()) => stream,
                Ok((_, peer)) => {
                    tracing::warn!(%peer, "proxy connection from an unexpected address closed");
                    continue;
                }
                Err(error) => {
                    tracing::debug!(%error, "proxy accept failed");
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let ctx = ctx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, ctx.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .preserve_header_case(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

impl Ctx {
    fn admits_peer(&self, ip: IpAddr) -> bool {
        self.peers.as_ref().is_none_or(|peers| peers.contains(&ip))
    }
}

async fn handle(req: Request<Incoming>, ctx: Ctx) -> Result<Response<ProxyBody>, Infallible> {
    Ok(if req.method() == Method::CONNECT {
        tunnel(req, ctx).await
    } else {
        forward(req, ctx).await
    })
}

/// `CONNECT host:port`: check, answer 200, then splice bytes both ways.
async fn tunnel(req: Request<Incoming>, ctx: Ctx) -> Response<ProxyBody> {
    let Some(authority) = req.uri().authority().cloned() else {
        return plain(StatusCode::BAD_REQUEST, "CONNECT needs host:port".into());
    };
    let port = authority.port_u16().unwrap_or(443);
    let target = format!("https://{authority}/");
    let ips = match admit(&ctx, authority.host(), port, &target).await {
        Ok(ips) => ips,
        Err(response) => return response,
    };
    tokio::spawn(async move {
        let upstream = match connect(&ips, port).await {
            Ok(s) => s,
            Err(error) => return tracing::debug!(%error, %target, "tunnel connect failed"),
        };
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut client = TokioIo::new(upgraded);
            let mut upstream = upstream;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    });
    Response::new(empty())
}

/// Absolute-form plain HTTP: check, then send the request to the checked address.
async fn forward(mut req: Request<Incoming>, ctx: Ctx) -> Response<ProxyBody> {
    let uri = req.uri().clone();
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority().cloned()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "this is a proxy: send absolute-form requests".into(),
        );
    };
    let target = uri.to_string();
    if scheme != "http" {
        let block = Block {
            check: "scheme",
            reason: format!("scheme `{scheme}` is not allowed through the proxy"),
        };
        return refuse(&ctx, &block, &target);
    }
    let port = authority.port_u16().unwrap_or(80);
    let ips = match admit(&ctx, authority.host(), port, &target).await {
        Ok(ips) => ips,
        Err(response) => return response,
    };
    let stream = match connect(&ips, port).await {
        Ok(s) => s,
        Err(e) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach {authority}: {e}"),
            );
        }
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(e) => {
            return plain(
                StatusCode::BAD_GATEWAY,
                format!("cannot talk to {authority}: {e}"),
            );
        }
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    *req.uri_mut() = path
        .parse()
        .unwrap_or_else(|_| "/".parse().expect("valid path"));
    let headers = req.headers_mut();
    headers.remove("proxy-connection");
    headers.remove("proxy-authorization");
    if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
        headers.insert(hyper::header::HOST, value);
    }
    match sender.send_request(req).await {
        Ok(response) => response.map(|b| b.boxed()),
        Err(e) => plain(StatusCode::BAD_GATEWAY, format!("{authority} failed: {e}")),
    }
}

/// Runs the guard on a destination; a refusal is reported and answered with 403.
async fn admit(
    ctx: &Ctx,
    host: &str,
    port: u16,
    target: &str,
) -> Result<Vec<IpAddr>, Response<ProxyBody>> {
    let parsed = Host::parse(host)
        .map_err(|e| plain(StatusCode::BAD_REQUEST, format!("bad host {host}: {e}")))?;
    let Some(armed) = ctx.armed.get() else {
        // Nothing of a run's runs here yet: the pooled browser's own traffic, or a spare's.
        let block = Block {
            check: "unassigned",
            reason: format!("{host}: this browser context serves no run"),
        };
        return Err(refuse(ctx, &block, target));
    };
    tracing::trace!(run_id = %armed.run_id, %host, port, "proxy request");
    if services::is_service_only(&parsed) {
        let block = Block {
            check: "browser_service",
            reason: format!("{host} serves only Chromium's own background services"),
        };
        return Err(refuse(ctx, &block, target));
    }
    let span = tracing::info_span!("guard_check", run_id = %armed.run_id, phase = "request");
    match armed
        .guard
        .check_host(&parsed, port, Phase::Landing)
        .instrument(span)
        .await
    {
        Ok(ips) if ips.is_empty() => Err(plain(
            StatusCode::BAD_GATEWAY,
            format!("cannot resolve {host}"),
        )),
        Ok(ips) => Ok(ips),
        Err(block) => Err(refuse(ctx, &block, target)),
    }
}

fn refuse(ctx: &Ctx, block: &Block, target: &str) -> Response<ProxyBody> {
    let host = url::Url::parse(target)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned));
    match (
        host.filter(|h| services::is_browser_service(h)),
        ctx.armed.get(),
    ) {
        (Some(host), _) => {
            metrics::counter!("pilothouse_browser_service_requests_refused_total").increment(1);
            tracing::debug!(%host, %target, "refused a background request of Chromium itself");
        }
        (None, Some(armed)) => (armed.on_block)(block, target),
        (None, None) => tracing::debug!(%target, "refused a request of an unassigned context"),
    }
    let body = format!(
        "<!doctype html><title>Blocked by Pilothouse</title><h1>Blocked by a guardrail</h1><p>{}</p>",
        crate::html::escape_html(&block.reason)
    );
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn connect(ips: &[IpAddr], port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address to connect to");
    for ip in ips {
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect(SocketAddr::new(*ip, port)),
        )
        .await
        {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
        }
    }
    Err(last)
}

fn plain(status: StatusCode, text: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response
}

fn full(text: String) -> ProxyBody {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

fn empty() -> ProxyBody {
    full(String::new())
}
