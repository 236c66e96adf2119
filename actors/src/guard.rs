//! Guardrails on destinations: scheme, domain allow-list and private networks.
//!
//! URLs are parsed with the WHATWG parser (`url`), which already normalizes IPv4 literals
//! written in decimal, octal, hex or short form (`http://2130706433/` is `127.0.0.1`), so every
//! spelling of an address reaches the same check. DNS-based checks come with the router issue.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::request::GuardrailSpec;

/// Why a destination was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// The check that refused it: `scheme`, `domain`, `private_network`, `url`.
    pub check: &'static str,
    /// Why, for people.
    pub reason: String,
}

impl Block {
    fn new(check: &'static str, reason: impl Into<String>) -> Self {
        Self {
            check,
            reason: reason.into(),
        }
    }
}

/// The destination checks of one run.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    allowed_domains: Vec<String>,
    allow_private_networks: bool,
}

impl Guard {
    /// Builds the checks from a validated request's guardrails.
    pub(crate) fn new(spec: &GuardrailSpec) -> Self {
        Self {
            allowed_domains: spec
                .allowed_domains
                .iter()
                .map(|d| normalize_pattern(d))
                .collect(),
            allow_private_networks: spec.allow_private_networks,
        }
    }

    /// Checks a destination before navigating, or a landing URL after.
    pub(crate) fn check_url(&self, raw: &str) -> Result<(), Block> {
        if raw == "about:blank" {
            return Ok(());
        }
        let url = Url::parse(raw).map_err(|e| Block::new("url", format!("unparsable URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Block::new(
                "scheme",
                format!(
                    "scheme `{}` is not allowed; only http and https",
                    url.scheme()
                ),
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| Block::new("url", "URL has no host"))?;
        if !self.allow_private_networks {
            if let Some(why) = private_host(&host) {
                return Err(Block::new(
                    "private_network",
                    format!("{host} is {why}; set guardrails.allow_private_networks to reach it"),
                ));
            }
        }
        if !self.allowed_domains.is_empty() {
            let name = host_text(&host);
            if !self
                .allowed_domains
                .iter()
                .any(|d| domain_matches(&name, d))
            {
                return Err(Block::new(
                    "domain",
                    format!("domain `{name}` is not in guardrails.allowed_domains"),
                ));
            }
        }
        Ok(())
    }
}

/// Validates one `allowed_domains` entry.
pub(crate) fn check_domain_pattern(pattern: &str) -> Result<(), String> {
    let p = normalize_pattern(pattern);
    if p.is_empty() {
        return Err("must not be empty".into());
    }
    if p.contains('/') || p.contains(':') && !p.starts_with('[') || p.contains(' ') {
        return Err(format!(
            "`{pattern}` is not a host name; write `example.com`, not a URL"
        ));
    }
    Ok(())
}

fn normalize_pattern(pattern: &str) -> String {
    let p = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    p.strip_prefix("*.").map(str::to_owned).unwrap_or(p)
}

fn host_text(host: &Host<&str>) -> String {
    match host {
        Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    }
}

/// `allowed` covers itself and its subdomains; never a lookalike such as `evilexample.com`.
fn domain_matches(host: &str, allowed: &str) -> bool {
    host == allowed
        || host
            .strip_suffix(allowed)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// Names the private range a host is in, if it is.
fn private_host(host: &Host<&str>) -> Option<&'static str> {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost")).then_some("a loopback name")
        }
        Host::Ipv4(ip) => private_v4(*ip),
        Host::Ipv6(ip) => private_v6(*ip),
    }
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [127, ..] => "a loopback address",
        [10, ..] => "a private address",
        [172, b, ..] if (16..=31).contains(&b) => "a private address",
        [192, 168, ..] => "a private address",
        [169, 254, ..] => "a link-local address",
        [0, ..] => "an unspecified address",
        [100, b, ..] if (64..=127).contains(&b) => "a carrier-grade NAT address",
        [a, ..] if (224..=239).contains(&a) => "a multicast address",
        [a, ..] if a >= 240 => "a reserved address",
        _ => return None,
    })
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return private_v4(v4);
    }
    let s = ip.segments();
    Some(match s {
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_unspecified() => "an unspecified address",
        [a, ..] if a & 0xfe00 == 0xfc00 => "a unique-local address",
        [a, ..] if a & 0xffc0 == 0xfe80 => "a link-local address",
        [a, ..] if a & 0xff00 == 0xff00 => "a multicast address",
        // IPv4-compatible (deprecated) ::a.b.c.d
        [0, 0, 0, 0, 0, 0, _, _] => return private_v4(ip_v4_tail(ip)),
        _ => return None,
    })
}

fn ip_v4_tail(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// True when `ip` is in a range the private-network guard blocks.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4).is_some(),
        IpAddr::V6(v6) => private_v6(v6).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allowed: &[&str], private: bool) -> Guard {
        Guard::new(&GuardrailSpec {
            allowed_domains: allowed.iter().map(|s| s.to_string()).collect(),
            allow_private_networks: private,
        })
    }

    #[test]
    fn private_literals_in_every_spelling_are_blocked_by_default() {
        let g = guard(&[], false);
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://10.1.2.3/",
            "http://172.20.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://localhost:8080/",
            "http://app.localhost/",
        ] {
            let err = g.check_url(url).expect_err(url);
            assert_eq!(err.check, "private_network", "{url}");
        }
        g.check_url("https://example.com/").unwrap();
        g.check_url("http://93.184.215.14/").unwrap();
    }

    #[test]
    fn allow_list_covers_subdomains_but_not_lookalikes() {
        let g = guard(&["example.com"], false);
        g.check_url("https://example.com/a").unwrap();
        g.check_url("https://www.example.com/a").unwrap();
        for url in [
            "https://evilexample.com/",
            "https://example.com.evil.test/",
            "https://example.org/",
        ] {
            assert_eq!(g.check_url(url).unwrap_err().check, "domain", "{url}");
        }
    }

    #[test]
    fn only_http_and_https_and_about_blank() {
        let g = guard(&[], true);
        g.check_url("about:blank").unwrap();
        for url in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,x",
        ] {
            assert_eq!(g.check_url(url).unwrap_err().check, "scheme", "{url}");
        }
    }

    #[test]
    fn loopback_allowed_only_when_asked() {
        let g = guard(&["127.0.0.1"], true);
        g.check_url("http://127.0.0.1:9999/x").unwrap();
        assert_eq!(
            g.check_url("http://127.0.0.2/").unwrap_err().check,
            "domain"
        );
    }
}
