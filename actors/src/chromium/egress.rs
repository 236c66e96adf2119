//! The browser's half of the egress policy: the switches that send every connection through the
//! run's proxy and confine WebRTC to it, and the profile preferences that keep Chromium's own
//! services (password leak checks, Safe Browsing, translate, ...) from calling home.
//!
//! Measured on Debian's Chromium 156 (`tests/webrtc_cannot_leave_the_proxy.rs`): with only
//! `--force-webrtc-ip-handling-policy` (a spelling this build does not know) a page's STUN and
//! TURN/UDP reached an outside listener from every frame and popup (53–85 datagrams per case);
//! `--webrtc-ip-handling-policy=disable_non_proxied_udp` stopped all of them, and TURN over TCP
//! then goes through the proxy as `CONNECT`, where the run's guard decides. The same policy is
//! also written as the profile preference `webrtc.ip_handling_policy`, a second layer.
//!
//! Chromium's services, observed through the proxy on this machine (a login form, a download,
//! 8 s idle): with the switches alone it still called `passwordsleakcheck-pa.googleapis.com`
//! after the login, `content-autofill.googleapis.com` (6 times), `accounts.google.com` and
//! `update.googleapis.com`; the preferences below stop the first two, `--gaia-url` and friends
//! send the sign-in calls to a sink host, and the proxy (`crate::proxy`) refuses what still
//! tries (the component updater, despite `--disable-component-update`), without a run event.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

use crate::proxy::SERVICES_SINK_HOST;

/// What `stats()` and the start-up log report as the active egress mechanism: every connection
/// through the run's filtering proxy; WebRTC only where proxied (no UDP of its own, TURN over TCP
/// through the proxy and its guard).
pub(crate) const EGRESS_MECHANISM: &str = "proxy+webrtc-proxied-only";

/// Switches that decide where the browser's packets go. Ours are appended after the operator's
/// `chromium_args` (Chromium keeps the last value of a repeated switch), and an operator's
/// switch of one of these names is dropped, so no config can quietly open a way around the proxy.
const EGRESS_SWITCH_NAMES: &[&str] = &[
    "proxy-server",
    "proxy-bypass-list",
    "no-proxy-server",
    "proxy-pac-url",
    "proxy-auto-detect",
    "webrtc-ip-handling-policy",
    "force-webrtc-ip-handling-policy",
    "gaia-url",
    "google-apis-url",
    "lso-url",
];

/// The WebRTC policy: no UDP that does not go through a proxy. An HTTP proxy carries no UDP,
/// so WebRTC can only reach a TURN server over TCP, through the proxy.
const WEBRTC_POLICY: &str = "disable_non_proxied_udp";

/// The switches that route the browser through `proxy` and confine WebRTC.
pub(super) fn switches(proxy: SocketAddr) -> Vec<String> {
    vec![
        format!("proxy-server=http://{proxy}"),
        // Removes Chromium's implicit bypass of loopback hosts, so requests to 127.0.0.1 and
        // localhost are filtered like any other.
        "proxy-bypass-list=<-loopback>".to_owned(),
        // Full Chromium (also in `--headless=new`) reads this spelling...
        format!("webrtc-ip-handling-policy={WEBRTC_POLICY}"),
        // ...and headless-shell builds read this one; Debian's Chromium ignores it.
        format!("force-webrtc-ip-handling-policy={WEBRTC_POLICY}"),
        // Chromium's own sign-in and Google API calls go to a host no page uses, which the proxy
        // refuses silently; a page's own `accounts.google.com` is unaffected.
        format!("gaia-url=https://{SERVICES_SINK_HOST}"),
        format!("google-apis-url=https://{SERVICES_SINK_HOST}"),
        format!("lso-url=https://{SERVICES_SINK_HOST}"),
    ]
}

/// The operator's extra switches without the ones that decide egress (see
/// [`EGRESS_SWITCH_NAMES`]), and the dropped ones.
pub(crate) fn split_operator_args(extra: &[String]) -> (Vec<String>, Vec<String>) {
    extra
        .iter()
        .map(|arg| arg.trim_start_matches("--").to_owned())
        .partition(|arg| {
            let name = arg.split('=').next().unwrap_or_default();
            !EGRESS_SWITCH_NAMES.contains(&name)
        })
}

/// Writes the fresh profile's `Default/Preferences`: Chromium's own services off, the WebRTC
/// policy again, and downloads pointed into the profile (removed with it) in case anything ever
/// escapes the DevTools download behaviour. Called before the browser starts.
pub(super) async fn write_preferences(profile_dir: &Path, downloads: &Path) -> std::io::Result<()> {
    let prefs = json!({
        "credentials_enable_service": false,
        "credentials_enable_autosignin": false,
        "profile": {
            "password_manager_enabled": false,
            "password_manager_leak_detection": false,
        },
        "safebrowsing": { "enabled": false, "enhanced": false },
        "signin": { "allowed": false, "allowed_on_next_startup": false },
        "translate": { "enabled": false },
        "search": { "suggest_enabled": false },
        "alternate_error_pages": { "enabled": false },
        "autofill": { "profile_enabled": false, "credit_card_enabled": false },
        "webrtc": { "ip_handling_policy": WEBRTC_POLICY },
        "download": {
            "default_directory": downloads,
            "prompt_for_download": false,
        },
    });
    let dir = profile_dir.join("Default");
    tokio::fs::create_dir_all(&dir).await?;
    tokio::fs::write(dir.join("Preferences"), prefs.to_string()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_switches_cannot_reroute_egress() {
        let extra = [
            "lang=en-US",
            "--proxy-server=http://elsewhere:8080",
            "no-proxy-server",
            "webrtc-ip-handling-policy=default",
            "disable-gpu",
        ]
        .map(str::to_owned);
        let (kept, dropped) = split_operator_args(&extra);
        assert_eq!(kept, ["lang=en-US", "disable-gpu"]);
        assert_eq!(
            dropped,
            [
                "proxy-server=http://elsewhere:8080",
                "no-proxy-server",
                "webrtc-ip-handling-policy=default"
            ]
        );
    }

    #[test]
    fn the_proxy_and_the_webrtc_policy_are_always_set() {
        let switches = switches("127.0.0.1:9".parse().unwrap());
        assert!(switches.contains(&"proxy-server=http://127.0.0.1:9".to_owned()));
        assert!(switches.contains(&"webrtc-ip-handling-policy=disable_non_proxied_udp".to_owned()));
        assert!(switches.contains(&format!("gaia-url=https://{SERVICES_SINK_HOST}")));
    }

    #[tokio::test]
    async fn preferences_turn_the_services_off() {
        let profile = tempfile::tempdir().unwrap();
        let downloads = profile.path().join("downloads");
        write_preferences(profile.path(), &downloads).await.unwrap();
        let text = std::fs::read_to_string(profile.path().join("Default/Preferences")).unwrap();
        let prefs: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(prefs["safebrowsing"]["enabled"], false);
        assert_eq!(prefs["profile"]["password_manager_leak_detection"], false);
        assert_eq!(prefs["webrtc"]["ip_handling_policy"], WEBRTC_POLICY);
        assert_eq!(
            prefs["download"]["default_directory"],
            downloads.to_str().unwrap()
        );
    }
}
