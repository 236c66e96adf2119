//! The hostile-destination table: every case is asserted blocked (with the check that must
//! refuse it) or allowed.

use super::*;

fn guard(allowed: &[&str], blocked: Option<&[&str]>, private: bool) -> Guard {
    Guard::new(&GuardrailSpec {
        allowed_domains: allowed.iter().map(|s| s.to_string()).collect(),
        blocked_domains: blocked.map(|b| b.iter().map(|s| s.to_string()).collect()),
        allow_private_networks: private,
        ..GuardrailSpec::default()
    })
}

/// `None`: allowed; `Some(check)`: refused by that check.
type Expect = Option<&'static str>;

async fn assert_table(g: &Guard, phase: Phase, cases: &[(&str, Expect)]) -> usize {
    for (url, expect) in cases {
        let got = g.check_url(url, phase).await.err().map(|b| b.check);
        assert_eq!(got, *expect, "{url} ({phase:?})");
    }
    cases.len()
}

#[tokio::test]
async fn hostile_destination_table() {
    let total =
        default_guard_cases().await + allow_list_cases().await + glob_and_loopback_cases().await;
    assert!(total >= 40, "only {total} cases");
}

/// The default guard: private networks in every spelling, schemes, the built-in blocked list.
/// Returns its number of cases.
async fn default_guard_cases() -> usize {
    // Default guard: no allow-list, private networks blocked, built-in blocked list.
    let open = guard(&[], None, false);
    assert_table(
        &open,
        Phase::Before,
        &[
            ("http://127.0.0.1/", Some("private_network")),
            ("http://2130706433/", Some("private_network")),
            ("http://0x7f000001/", Some("private_network")),
            ("http://0x7f.1/", Some("private_network")),
            ("http://0177.0.0.1/", Some("private_network")),
            ("http://017700000001/", Some("private_network")),
            ("http://127.1/", Some("private_network")),
            ("http://127.0.0.1.:8080/", Some("private_network")),
            ("http://10.1.2.3/", Some("private_network")),
            ("http://172.20.0.1/", Some("private_network")),
            ("http://192.168.1.1/", Some("private_network")),
            (
                "http://169.254.169.254/latest/meta-data",
                Some("private_network"),
            ),
            ("http://0.0.0.0/", Some("private_network")),
            ("http://0/", Some("private_network")),
            ("http://100.64.0.1/", Some("private_network")),
            ("http://224.0.0.1/", Some("private_network")),
            ("http://255.255.255.255/", Some("private_network")),
            ("http://[::1]/", Some("private_network")),
            ("http://[::]/", Some("private_network")),
            ("http://[::ffff:127.0.0.1]/", Some("private_network")),
            ("http://[::ffff:7f00:1]/", Some("private_network")),
            ("http://[fd00::1]/", Some("private_network")),
            ("http://[fe80::1]/", Some("private_network")),
            ("http://[ff02::1]/", Some("private_network")),
            ("http://[64:ff9b::a00:1]/", Some("private_network")),
            ("http://localhost:8080/", Some("private_network")),
            ("http://LOCALHOST./", Some("private_network")),
            ("http://app.localhost/", Some("private_network")),
            ("https://user:pw@127.0.0.1@evil.test/", None),
            ("file:///etc/passwd", Some("scheme")),
            ("chrome://settings", Some("scheme")),
            ("devtools://devtools/bundled/inspector.html", Some("scheme")),
            ("javascript:alert(1)", Some("scheme")),
            ("data:text/html,<script>alert(1)</script>", Some("scheme")),
            ("view-source:https://example.com/", Some("scheme")),
            ("blob:https://example.com/uuid", Some("scheme")),
            ("ftp://example.com/", Some("scheme")),
            ("about:blank", None),
            ("https://example.com/", None),
            ("http://93.184.215.14/", None),
            ("http://[2606:4700::1111]/", None),
            ("https://www.irs.gov/", Some("blocked_domain")),
            ("https://gov/", Some("blocked_domain")),
            ("https://www.paypal.com/signin", Some("blocked_domain")),
            ("https://mail.google.com/", Some("blocked_domain")),
            ("https://notpaypal.com/", None),
        ],
    )
    .await
}

/// An allow-list: subdomains yes, lookalikes no, sign-in redirects only on landing. Returns its
/// number of cases.
async fn allow_list_cases() -> usize {
    let mut total = 0;
    // Allow-list of example.com: subdomains yes, lookalikes no; auth redirects only on landing.
    let scoped = guard(&["example.com"], None, false);
    total += assert_table(
        &scoped,
        Phase::Before,
        &[
            ("https://example.com/a", None),
            ("https://www.example.com/a", None),
            ("https://deep.sub.example.com/", None),
            ("https://EXAMPLE.com./", None),
            ("https://evilexample.com/", Some("domain")),
            ("https://example.com.evil.test/", Some("domain")),
            ("https://example.org/", Some("domain")),
            ("https://examp1e.com/", Some("domain")),
            ("https://login.example.com.evil.test/", Some("domain")),
        ],
    )
    .await;
    let app = guard(&["app.example.com"], None, false);
    total += assert_table(
        &app,
        Phase::Before,
        &[("https://login.example.com/", Some("domain"))],
    )
    .await;
    total += assert_table(
        &app,
        Phase::Landing,
        &[
            ("https://login.example.com/oauth", None),
            ("https://accounts.example.com/", None),
            ("https://shop.example.com/", Some("domain")),
            ("https://login.evil.test/", Some("domain")),
            ("https://login.com/", Some("domain")),
        ],
    )
    .await;
    // Once accepted after a redirect, the sign-in host stays allowed for the run.
    total += assert_table(
        &app,
        Phase::Before,
        &[("https://login.example.com/next", None)],
    )
    .await;
    total
}

/// Blocked globs over an allow-list, and loopback when private networks are allowed. Returns
/// its number of cases.
async fn glob_and_loopback_cases() -> usize {
    let mut total = 0;
    // Explicit blocked globs win over the allow-list; `*.x` also matches `x`.
    let globs = guard(
        &["example.com"],
        Some(&["*.ads.example.com", "admin.example.com"]),
        false,
    );
    total += assert_table(
        &globs,
        Phase::Before,
        &[
            ("https://ads.example.com/", Some("blocked_domain")),
            ("https://x.ads.example.com/", Some("blocked_domain")),
            ("https://admin.example.com/", Some("blocked_domain")),
            ("https://shop.example.com/", None),
        ],
    )
    .await;

    // Loopback only when the request allows private networks.
    let local = guard(&["127.0.0.1"], None, true);
    total += assert_table(
        &local,
        Phase::Before,
        &[
            ("http://127.0.0.1:9999/x", None),
            ("http://127.0.0.2/", Some("domain")),
            ("http://localhost/", Some("domain")),
        ],
    )
    .await;
    total
}

#[tokio::test]
async fn a_public_looking_name_that_resolves_to_loopback_is_blocked() {
    // The machine's own name resolves to a loopback address through /etc/hosts.
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let name = name.trim();
    let ips: Vec<_> = tokio::net::lookup_host((name, 80)).await.unwrap().collect();
    assert!(
        ips.iter().all(|a| a.ip().is_loopback()),
        "{name} -> {ips:?}"
    );
    let open = guard(&[], None, false);
    let block = open
        .check_url(&format!("http://{name}/"), Phase::Before)
        .await
        .unwrap_err();
    assert_eq!(block.check, "private_network");
    assert!(block.reason.contains("resolves to"), "{}", block.reason);
    guard(&[], None, true)
        .check_url(&format!("http://{name}/"), Phase::Before)
        .await
        .unwrap();
}
