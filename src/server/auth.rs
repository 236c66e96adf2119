//! The bearer-token check in front of every route but the public ones (`/health`, `/ready`,
//! `/openapi.json`). The token is compared in constant time; it is never logged or echoed.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::AppState;
use super::errors::ApiError;

/// Lets the request through when no key is configured (the server then listens on loopback
/// only) or when it carries `Authorization: Bearer <key>`; else 401 `UNAUTHORIZED`.
pub(crate) async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = state.api_key.as_deref() else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    match presented {
        Some(token) if matches(token.as_bytes(), key.expose().as_bytes()) => {
            next.run(request).await
        }
        _ => ApiError::unauthorized().into_response(),
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Constant-time equality. Both sides are hashed first, so what is compared always has the same
/// length and the timing tells nothing of the key's length either.
fn matches(presented: &[u8], key: &[u8]) -> bool {
    let (presented, key) = (Sha256::digest(presented), Sha256::digest(key));
    presented.as_slice().ct_eq(key.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }

    #[test]
    fn only_the_exact_key_matches() {
        assert!(matches(b"k3y", b"k3y"));
        assert!(!matches(b"k3", b"k3y"));
        assert!(!matches(b"k3Y", b"k3y"));
        assert!(!matches(b"", b"k3y"));
    }
}
