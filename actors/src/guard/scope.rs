//! Domain scope: the allow-list, blocked globs, and the related-auth-redirect rule.

/// Sites no run visits unless the request names its own `allowed_domains` (government,
/// military, banking, payments, webmail and social networks), as in the reference system.
/// `*.x` also matches `x` itself, so `*.chase.com` covers `chase.com` and `www.chase.com`;
/// `*.bank.*` is any `bank` label with a suffix (`foo.bank.example`), `*.bank` the `.bank` TLD.
pub(crate) const DEFAULT_BLOCKED_DOMAINS: &[&str] = &[
    // Government and military.
    "*.gov",
    "*.gov.*",
    "*.mil",
    // Banking.
    "*.bank",
    "*.bank.*",
    "*.chase.com",
    "*.bankofamerica.com",
    "*.wellsfargo.com",
    "*.citi.com",
    "*.usbank.com",
    "*.capitalone.com",
    "*.hsbc.com",
    "*.barclays.co.uk",
    // Payments.
    "*.paypal.com",
    "*.stripe.com",
    "*.venmo.com",
    "*.wise.com",
    "*.square.com",
    "*.cash.app",
    // Webmail.
    "mail.google.com",
    "outlook.live.com",
    "outlook.office.com",
    "mail.yahoo.com",
    "*.proton.me",
    // Social networks.
    "*.facebook.com",
    "*.instagram.com",
    "*.x.com",
    "*.twitter.com",
    "*.linkedin.com",
    "*.tiktok.com",
    "*.reddit.com",
];

/// Labels that mark a host as a sign-in service (`login.example.com`).
const AUTH_LABELS: &[&str] = &[
    "account", "accounts", "auth", "id", "login", "oauth", "okta", "signin", "signon", "sso",
];

pub(crate) use crate::request::normalize_domain as normalize;

/// `allowed` covers itself and its subdomains; never a lookalike such as `evilexample.com`.
pub(crate) fn covers(allowed: &str, host: &str) -> bool {
    host == allowed
        || host
            .strip_suffix(allowed)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// Glob match on a host: `*` is any run of characters, `?` one; `*.x` also matches `x`
/// (and `*.x.*` matches `x.*`).
pub(crate) fn glob_matches(glob: &str, host: &str) -> bool {
    let glob = glob.trim().trim_end_matches('.').to_ascii_lowercase();
    if let Some(base) = glob.strip_prefix("*.")
        && wildcard(base.as_bytes(), host.as_bytes())
    {
        return true;
    }
    wildcard(glob.as_bytes(), host.as_bytes())
}

fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The reference's related-auth-redirect rule: `login.example.com` may be visited after a
/// redirect when `example.com` (or a sibling such as `app.example.com`) is allowed. The parent
/// must be a registrable domain or below one, never a public suffix (checked against the
/// Public Suffix List, private section included): `login.com` never rides on `example.com`,
/// `login.co.uk` on `example.co.uk`, nor `login.github.io` on `myapp.github.io`, because each
/// of those parents is shared by unrelated owners.
pub(crate) fn is_related_auth_host(host: &str, allowed: &[String]) -> bool {
    let Some((first, parent)) = host.split_once('.') else {
        return false;
    };
    if !AUTH_LABELS.contains(&first) || is_public_suffix(parent) {
        return false;
    }
    allowed
        .iter()
        .any(|d| covers(d, parent) || parent_of(d) == Some(parent))
}

/// `com`, `co.uk`, `github.io`: a name under which anyone may register. A single unknown label
/// (`localhost`, `test`) counts as one too (the list's default `*` rule).
fn is_public_suffix(name: &str) -> bool {
    psl::suffix_str(name).is_none_or(|suffix| suffix.eq_ignore_ascii_case(name))
}

fn parent_of(domain: &str) -> Option<&str> {
    domain.split_once('.').map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("*.gov", "irs.gov"));
        assert!(glob_matches("*.gov", "gov"));
        assert!(glob_matches("*.gov.*", "service.gov.uk"));
        assert!(!glob_matches("*.gov", "govern.com"));
        assert!(glob_matches("ads.*.test", "ads.tracker.test"));
        assert!(glob_matches("shop?.test", "shop1.test"));
        assert!(!glob_matches("paypal.com", "notpaypal.com"));
        assert!(glob_matches("*.bank.*", "foo.bank.example"));
        assert!(glob_matches("*.bank.*", "bank.example"));
        assert!(!glob_matches("*.bank.*", "foo.bankrate.com"));
        assert!(!glob_matches("*.x.com", "max.com"));
    }

    #[test]
    fn auth_redirects() {
        let allowed = vec!["app.example.com".to_owned()];
        assert!(is_related_auth_host("login.example.com", &allowed));
        assert!(is_related_auth_host("sso.app.example.com", &allowed));
        assert!(!is_related_auth_host("shop.example.com", &allowed));
        assert!(!is_related_auth_host("login.evil.test", &allowed));
        let allowed = vec!["example.com".to_owned()];
        assert!(is_related_auth_host("accounts.example.com", &allowed));
        assert!(!is_related_auth_host("login.com", &allowed));
    }

    #[test]
    fn auth_redirects_never_ride_on_a_public_suffix() {
        // Private-section suffixes: every subdomain has a different owner.
        let allowed = vec!["myapp.github.io".to_owned()];
        assert!(!is_related_auth_host("login.github.io", &allowed));
        assert!(is_related_auth_host("login.myapp.github.io", &allowed));
        let allowed = vec!["myapp.appspot.com".to_owned()];
        assert!(!is_related_auth_host("accounts.appspot.com", &allowed));
        assert!(is_related_auth_host("sso.myapp.appspot.com", &allowed));
        // ICANN multi-label suffixes.
        let allowed = vec!["example.co.uk".to_owned()];
        assert!(!is_related_auth_host("login.co.uk", &allowed));
        assert!(is_related_auth_host("login.example.co.uk", &allowed));
        let allowed = vec!["app.example.co.uk".to_owned()];
        assert!(is_related_auth_host("login.example.co.uk", &allowed));
        assert!(!is_related_auth_host("login.other.co.uk", &allowed));
        // A public suffix allowed outright still lends nothing to a sign-in host beside it.
        let allowed = vec!["co.uk".to_owned()];
        assert!(!is_related_auth_host("login.co.uk", &allowed));
    }
}
