//! Network checks: which addresses are private, and hostname resolution with a bound and a
//! cache, so a public-looking name that resolves to a private address is caught too.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on one DNS lookup (the reference uses 2 s).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a lookup is reused.
const RESOLVE_TTL: Duration = Duration::from_secs(60);
/// Entries kept before the cache is emptied (the reference keeps 1024).
const RESOLVE_CACHE_MAX: usize = 1024;

/// Names the non-public range `ip` is in, if any.
pub(crate) fn private_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => private_v6(v6),
    }
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    Some(match ip.octets() {
        [127, ..] => "a loopback address",
        [10, ..] => "a private address",
        [172, b, ..] if (16..=31).contains(&b) => "a private address",
        [192, 168, ..] => "a private address",
        [169, 254, ..] => "a link-local address",
        [0, ..] => "an unspecified address",
        [100, b, ..] if (64..=127).contains(&b) => "a carrier-grade NAT address",
        [192, 0, 0, _] => "an IETF protocol address",
        [198, b, ..] if b == 18 || b == 19 => "a benchmarking address",
        [a, ..] if (224..=239).contains(&a) => "a multicast address",
        [a, ..] if a >= 240 => "a reserved or broadcast address",
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
        // NAT64 (64:ff9b::/96) and IPv4-compatible (::a.b.c.d) embed an IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0, 0, 0, 0, 0, 0, _, _] => {
            let o = ip.octets();
            return private_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
        }
        // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => {
            return private_v4(Ipv4Addr::new(
                (hi >> 8) as u8,
                hi as u8,
                (lo >> 8) as u8,
                lo as u8,
            ));
        }
        _ => return None,
    })
}

/// A bounded, cached resolver.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    cache: Mutex<HashMap<String, (Instant, Vec<IpAddr>)>>,
}

impl Resolver {
    /// The addresses of `host:port`; `Err` when the lookup fails or takes too long.
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        if let Some(ips) = self.cached(host) {
            return Ok(ips);
        }
        let lookup = tokio::net::lookup_host((host.to_owned(), port));
        let ips: Vec<IpAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| {
                format!(
                    "resolving {host} took longer than {} s",
                    RESOLVE_TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .map(|addr| addr.ip())
            .collect();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= RESOLVE_CACHE_MAX {
            cache.clear();
        }
        cache.insert(host.to_owned(), (Instant::now(), ips.clone()));
        Ok(ips)
    }

    fn cached(&self, host: &str) -> Option<Vec<IpAddr>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(host)
            .filter(|(at, _)| at.elapsed() < RESOLVE_TTL)
            .map(|(_, ips)| ips.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_ipv4_forms_are_classified() {
        for ip in [
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
            "2002:a00:1::",
            "fd12::1",
            "ff02::1",
        ] {
            assert!(private_range(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["2606:4700::1111", "8.8.8.8", "93.184.215.14"] {
            assert!(private_range(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_is_cached() {
        let resolver = Resolver::default();
        let ips = resolver.resolve("localhost", 80).await.unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        assert!(resolver.cached("localhost").is_some());
    }
}
