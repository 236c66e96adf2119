//! Chromium's own services, as the proxy sees them: hosts only the browser itself calls
//! (password leak checks, Safe Browsing, optimization hints, component updates, variations,
//! translate, autofill) and hosts a browser and a page may both call.
//!
//! The launch switches and profile preferences (`chromium/egress.rs`) turn these services off;
//! this is the net behind them. A service-only host is refused whatever the run's scope says —
//! no page needs it, and what Chromium sends there is derived from the page (a credential's hash
//! after a login, a download's URL) — and without a run event, since the page did not ask for
//! it; a metric and a debug trace count it instead. A shared host is refused silently only when
//! the run's guard refuses it anyway.

use url::Host;

/// Where Chromium's own Google sign-in and API calls are sent instead: the launch switches
/// (`chromium/egress.rs`) point `--gaia-url` and friends here, and it is refused below.
pub(crate) const SERVICES_SINK_HOST: &str = "browser-services.pilothouse.invalid";

/// Hosts only Chromium's background services call.
const SERVICE_ONLY_HOSTS: &[&str] = &[
    // Password leak detection: a hash derived from a credential just used on a page.
    "passwordsleakcheck-pa.googleapis.com",
    // Safe Browsing: list updates, real-time and download checks (the download's URL).
    "safebrowsing.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "sb-ssl.google.com",
    // Optimization hints for the pages visited.
    "optimizationguide-pa.googleapis.com",
    // Component updates and their downloads.
    "update.googleapis.com",
    "clients1.google.com",
    "clients2.google.com",
    "clients2.googleusercontent.com",
    "redirector.gvt1.com",
    "edgedl.me.gvt1.com",
    // Field-trial seeds, autofill, translate ranking, sync, reporting, push messaging.
    "clientservices.googleapis.com",
    "content-autofill.googleapis.com",
    "translate-pa.googleapis.com",
    "chromesyncpasswords-pa.googleapis.com",
    "chromereporting-pa.googleapis.com",
    "android.clients.google.com",
    "mtalk.google.com",
    // Where the launch switches send Chromium's own sign-in and Google API calls.
    SERVICES_SINK_HOST,
];

/// Hosts Chromium calls in the background that pages may call too (sign-in).
const SHARED_HOSTS: &[&str] = &["accounts.google.com"];

/// True for a host only Chromium's own services call: refused silently, whatever the scope.
pub(super) fn is_service_only(host: &Host<String>) -> bool {
    matches!(host, Host::Domain(name) if SERVICE_ONLY_HOSTS.contains(&normal(name).as_str()))
}

/// True for any host Chromium's background services call: a refusal of one is not the page's
/// doing, so it is not a run event.
pub(super) fn is_browser_service(host: &str) -> bool {
    let host = normal(host);
    SERVICE_ONLY_HOSTS.contains(&host.as_str()) || SHARED_HOSTS.contains(&host.as_str())
}

/// Lower case, without the trailing dot of a fully qualified name.
fn normal(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> Host<String> {
        Host::parse(name).unwrap()
    }

    #[test]
    fn service_hosts_are_known_in_any_spelling() {
        for name in [
            "passwordsleakcheck-pa.googleapis.com",
            "SafeBrowsing.googleapis.com",
            "update.googleapis.com.",
        ] {
            assert!(is_service_only(&host(name)), "{name}");
            assert!(is_browser_service(name), "{name}");
        }
    }

    #[test]
    fn pages_keep_their_google_hosts() {
        for name in [
            "fonts.googleapis.com",
            "www.google.com",
            "storage.googleapis.com",
            "accounts.google.com",
            "evil-safebrowsing.googleapis.com.example",
            "127.0.0.1",
        ] {
            assert!(!is_service_only(&host(name)), "{name}");
        }
        assert!(is_browser_service("accounts.google.com"));
        assert!(!is_browser_service("example.com"));
    }
}
