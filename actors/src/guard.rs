//! Destination guardrails: scheme, domain scope (allow-list, blocked globs, related auth
//! redirects) and private networks (literals in any spelling, and names that resolve to them).
//!
//! URLs are parsed with the WHATWG parser (`url`), which normalizes IPv4 literals written in
//! decimal, octal, hex or short form (`http://2130706433/` is `127.0.0.1`), so every spelling of
//! an address reaches the same check. The same `Guard` serves the router (before and after each
//! action) and the run's filtering proxy (every request the browser makes).

mod destructive;
mod network;
mod precedence;
mod scope;
mod stuck;

use std::net::IpAddr;
use std::sync::Mutex;

use url::{Host, Url};

use crate::request::GuardrailSpec;
pub(crate) use destructive::{Destructive, find_destructive, hide_controls, label_from_html};
use network::Resolver;
pub(crate) use precedence::{describe, intersect_allowed, narrow, within_floor};
pub(crate) use stuck::{StuckDetector, Verdict};

/// Why a destination was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// The check that refused it: `scheme`, `domain`, `blocked_domain`, `private_network`, `url`,
    /// `destructive` (a click on a control the task kind may not use).
    pub(crate) check: &'static str,
    /// Why, for people.
    pub(crate) reason: String,
}

impl Block {
    pub(crate) fn new(check: &'static str, reason: impl Into<String>) -> Self {
        Self {
            check,
            reason: reason.into(),
        }
    }
}

/// When a destination is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Before an action navigates there: the allow-list is strict.
    Before,
    /// Where the page landed, or a request the page made: related sign-in hosts of allowed
    /// domains are accepted (a login redirect), and join the run's allow-list.
    Landing,
}

/// The destination checks of one run.
#[derive(Debug)]
pub(crate) struct Guard {
    allowed: Vec<String>,
    blocked: Vec<String>,
    allow_private_networks: bool,
    /// Sign-in hosts accepted after a redirect.
    accepted_auth_hosts: Mutex<Vec<String>>,
    resolver: Resolver,
}

impl Guard {
    /// Builds the checks from a validated request's guardrails.
    pub(crate) fn new(spec: &GuardrailSpec) -> Self {
        let allowed: Vec<String> = spec
            .allowed_domains
            .iter()
            .map(|d| scope::normalize(d))
            .collect();
        let blocked = match &spec.blocked_domains {
            Some(globs) => globs.clone(),
            None if allowed.is_empty() => scope::DEFAULT_BLOCKED_DOMAINS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            None => Vec::new(),
        };
        Self {
            allowed,
            blocked,
            allow_private_networks: spec.allow_private_networks,
            accepted_auth_hosts: Mutex::default(),
            resolver: Resolver::default(),
        }
    }

    /// Checks a URL: scheme, scope, and private networks (resolving names, bounded and cached).
    pub(crate) async fn check_url(&self, raw: &str, phase: Phase) -> Result<(), Block> {
        if raw == "about:blank" {
            return Ok(());
        }
        let url = Url::parse(raw).map_err(|e| Block::new("url", format!("unparsable URL: {e}")))?;
        self.check_parsed_url(&url, phase).await.map(|_| ())
    }

    /// Checks a parsed URL (scheme, scope, private networks) and returns the addresses its host
    /// may be reached at, with its port: an `api_request` connects to exactly these.
    pub(crate) async fn check_parsed_url(
        &self,
        url: &Url,
        phase: Phase,
    ) -> Result<(Vec<IpAddr>, u16), Block> {
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
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = self.check_host(&host.to_owned(), port, phase).await?;
        Ok((addrs, port))
    }

    /// Checks a host the browser wants to reach and returns the addresses it may connect to
    /// (the proxy connects to exactly these, so a DNS answer cannot change between check and
    /// use).
    pub(crate) async fn check_host(
        &self,
        host: &Host<String>,
        port: u16,
        phase: Phase,
    ) -> Result<Vec<IpAddr>, Block> {
        let name = host_text(host);
        self.check_scope(&name, phase)?;
        match host {
            Host::Ipv4(ip) => self.check_ip(&name, IpAddr::V4(*ip)).map(|ip| vec![ip]),
            Host::Ipv6(ip) => self.check_ip(&name, IpAddr::V6(*ip)).map(|ip| vec![ip]),
            Host::Domain(domain) => {
                if !self.allow_private_networks
                    && (name == "localhost" || name.ends_with(".localhost"))
                {
                    return Err(private(&name, "a loopback name"));
                }
                let ips = match self.resolver.resolve(domain, port).await {
                    Ok(ips) => ips,
                    // Unresolvable names cannot be reached; the browser reports its own error.
                    Err(_) => return Ok(Vec::new()),
                };
                for ip in &ips {
                    self.check_ip(&name, *ip)?;
                }
                Ok(ips)
            }
        }
    }

    fn check_ip(&self, name: &str, ip: IpAddr) -> Result<IpAddr, Block> {
        if !self.allow_private_networks
            && let Some(range) = network::private_range(ip)
        {
            let what = if name.trim_matches(['[', ']']) == ip.to_string() {
                range.to_owned()
            } else {
                format!("resolves to {ip}, {range}")
            };
            return Err(private(name, &what));
        }
        Ok(ip)
    }

    fn check_scope(&self, name: &str, phase: Phase) -> Result<(), Block> {
        if let Some(glob) = self.blocked.iter().find(|g| scope::glob_matches(g, name)) {
            return Err(Block::new(
                "blocked_domain",
                format!("domain `{name}` matches blocked pattern `{glob}`"),
            ));
        }
        if self.allowed.is_empty() || self.allowed.iter().any(|d| scope::covers(d, name)) {
            return Ok(());
        }
        let mut accepted = self
            .accepted_auth_hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if accepted.iter().any(|h| h == name) {
            return Ok(());
        }
        if phase == Phase::Landing && scope::is_related_auth_host(name, &self.allowed) {
            accepted.push(name.to_owned());
            return Ok(());
        }
        Err(Block::new(
            "domain",
            format!("domain `{name}` is not in guardrails.allowed_domains"),
        ))
    }
}

fn private(name: &str, what: &str) -> Block {
    Block::new(
        "private_network",
        format!("{name} is {what}; set guardrails.allow_private_networks to reach it"),
    )
}

fn host_text(host: &Host<String>) -> String {
    match host {
        Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    }
}

/// True when `ip` is in a range the private-network guard blocks.
pub fn is_private_ip(ip: IpAddr) -> bool {
    network::private_range(ip).is_some()
}

#[cfg(test)]
mod reference_tables;
#[cfg(test)]
mod tests;
