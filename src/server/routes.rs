//! The route table: one constant that both builds the router and is checked against
//! `openapi.json`, so the published document cannot drift from what the server answers.

use axum::Router;
use axum::routing::{MethodFilter, MethodRouter, on};

use super::{AppState, auth, ops, recording, runs, sse};

/// The HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
}

impl Verb {
    /// The lower-case name, as OpenAPI spells it.
    #[cfg(test)]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
        }
    }
}

/// One route: method, axum path, whether it needs the API key, and its handler.
pub(crate) struct Route {
    pub(crate) verb: Verb,
    pub(crate) path: &'static str,
    /// Reachable without the API key (probes and the API description hold no run data).
    pub(crate) public: bool,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

/// Every route the server answers.
pub(crate) const ROUTES: &[Route] = &[
    Route {
        verb: Verb::Post,
        path: "/runs",
        public: false,
        handler: |m| on(m, runs::submit),
    },
    Route {
        verb: Verb::Get,
        path: "/runs",
        public: false,
        handler: |m| on(m, runs::list),
    },
    Route {
        verb: Verb::Post,
        path: "/runs/dry-run",
        public: false,
        handler: |m| on(m, runs::dry_run),
    },
    Route {
        verb: Verb::Get,
        path: "/runs/{id}",
        public: false,
        handler: |m| on(m, runs::status),
    },
    Route {
        verb: Verb::Post,
        path: "/runs/{id}/cancel",
        public: false,
        handler: |m| on(m, runs::cancel),
    },
    Route {
        verb: Verb::Post,
        path: "/runs/{id}/stop",
        public: false,
        handler: |m| on(m, runs::cancel),
    },
    Route {
        verb: Verb::Get,
        path: "/runs/{id}/events",
        public: false,
        handler: |m| on(m, sse::run_events),
    },
    Route {
        verb: Verb::Get,
        path: "/runs/{id}/stream",
        public: false,
        handler: |m| on(m, sse::run_events),
    },
    Route {
        verb: Verb::Get,
        path: "/runs/{id}/recording/{*path}",
        public: false,
        handler: |m| on(m, recording::file),
    },
    Route {
        verb: Verb::Get,
        path: "/events",
        public: false,
        handler: |m| on(m, sse::all_events),
    },
    Route {
        verb: Verb::Get,
        path: "/metrics",
        public: false,
        handler: |m| on(m, ops::metrics),
    },
    Route {
        verb: Verb::Get,
        path: "/health",
        public: true,
        handler: |m| on(m, ops::health),
    },
    Route {
        verb: Verb::Get,
        path: "/ready",
        public: true,
        handler: |m| on(m, ops::ready),
    },
    Route {
        verb: Verb::Get,
        path: "/openapi.json",
        public: true,
        handler: |m| on(m, ops::openapi),
    },
];

/// The routes of `ROUTES` with `public == want_public`, keyed by path (methods merged).
fn routes_where(want_public: bool) -> Router<AppState> {
    let mut router = Router::new();
    for route in ROUTES.iter().filter(|r| r.public == want_public) {
        router = router.route(route.path, (route.handler)(route.verb.filter()));
    }
    router
}

/// Public routes as they are; the others behind the API-key check.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    let protected = routes_where(false).route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_api_key,
    ));
    routes_where(true).merge(protected)
}
