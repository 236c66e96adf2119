//! Following an `api_request` hop by hop: each URL (the first and every redirect target) is
//! checked by the run's guard, which resolves its host once and checks every address; the hop's
//! client connects only to those addresses (no proxy from the environment, no redirects of its
//! own). Browser cookies and headers go only to the first URL's origin; a 301/302/303 turns the
//! next hop into a GET without a body, as browsers do.

use std::net::SocketAddr;

use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use url::{Host, Url};

use super::{ApiContext, ApiError, MAX_REDIRECTS, Prepared, Response};
use crate::guard::{Block, Phase};

/// Sends `prepared`, following up to [`MAX_REDIRECTS`] redirects, each hop guarded.
pub(super) async fn follow(
    ctx: &ApiContext<'_>,
    prepared: &Prepared,
) -> Result<Response, ApiError> {
    let origin = prepared.url.origin();
    let mut url = prepared.url.clone();
    let mut method = prepared.method.clone();
    let mut body = prepared.body.clone();
    for hop in 0..=MAX_REDIRECTS {
        let client = pinned_client(ctx, &url).await?;
        let same_origin = url.origin() == origin;
        let mut request = client.request(method.clone(), url.clone());
        if same_origin {
            request = request.headers(prepared.headers.clone());
            if let Some(cookie) = &prepared.cookie_header {
                request = request.header(COOKIE, cookie);
            }
        }
        if let Some((kind, bytes)) = &body {
            request = request.header(CONTENT_TYPE, *kind).body(bytes.clone());
        }
        let response = request.send().await.map_err(|e| {
            ApiError::Failed(format!(
                "cannot reach {}: {}",
                redacted(&url),
                error_text(&e)
            ))
        })?;
        let status = response.status();
        match redirect_target(&url, status, response.headers()) {
            Some(next) if hop < MAX_REDIRECTS => {
                if matches!(status.as_u16(), 301..=303) && method != Method::HEAD {
                    method = Method::GET;
                    body = None;
                }
                url = next?;
            }
            Some(_) => {
                return Err(ApiError::Failed(format!(
                    "more than {MAX_REDIRECTS} redirects from {}",
                    redacted(&prepared.url)
                )));
            }
            None => {
                let body = read_capped(response, ctx.max_body_bytes).await?;
                return Ok(Response {
                    status,
                    url: redacted(&url),
                    body,
                });
            }
        }
    }
    unreachable!("the loop returns on its last hop")
}

/// A client for one hop: the URL checked by the guard, and connections pinned to the
/// addresses the guard checked.
async fn pinned_client(ctx: &ApiContext<'_>, url: &Url) -> Result<reqwest::Client, ApiError> {
    let blocked = |block: Block| ApiError::Blocked {
        block,
        target: redacted(url),
    };
    let (addrs, port) = ctx
        .guard
        .check_parsed_url(url, Phase::Before)
        .await
        .map_err(blocked)?;
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    let builder = match url.host() {
        Some(Host::Domain(domain)) => {
            if addrs.is_empty() {
                return Err(ApiError::Failed(format!("cannot resolve {domain}")));
            }
            let pinned: Vec<SocketAddr> =
                addrs.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
            builder.resolve_to_addrs(domain, &pinned)
        }
        // A literal address needs no lookup: the guard checked the very address.
        _ => builder,
    };
    builder
        .build()
        .map_err(|e| ApiError::Failed(format!("cannot build the HTTP client: {e}")))
}

/// The next URL when `status` is a redirect with a `Location`.
fn redirect_target(
    current: &Url,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<Result<Url, ApiError>> {
    if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
        return None;
    }
    let location = headers.get(LOCATION)?;
    let parsed = location
        .to_str()
        .ok()
        .and_then(|l| current.join(l).ok())
        .ok_or_else(|| {
            ApiError::Failed(format!(
                "HTTP {status} from {} with an unreadable Location",
                redacted(current)
            ))
        });
    Some(parsed)
}

/// The body, up to `max` bytes; more is a failure (a cut JSON body would not parse).
async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        let e = e.without_url();
        ApiError::Failed(format!("reading the response: {}", error_text(&e)))
    })? {
        if body.len() + chunk.len() > max {
            return Err(ApiError::Failed(format!(
                "the response is larger than [limits] max_result_bytes = {max}"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The URL without its query and fragment (they may carry a secret).
pub(super) fn redacted(url: &Url) -> String {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.set_fragment(None);
    bare.to_string()
}

/// reqwest's error with its causes (its own text alone often says only "error sending
/// request"); callers strip its URL first (the query may carry a secret).
fn error_text(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
