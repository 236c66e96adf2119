//! `[guardrails]`: the operator's floors under every run's guardrails. A request's guardrails,
//! and a playbook's own, can only narrow what these allow, never widen it; the effective
//! guardrails of each run are the intersection (see `guard/precedence.rs`) and are stated in a
//! `log` event when the run starts.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::request::check_domain_pattern;

/// Floors no request or playbook can loosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardrailFloor {
    /// Whether any run may reach private networks (loopback, the LAN, cloud metadata
    /// addresses). False: a request or playbook that sets `guardrails.allow_private_networks`
    /// is refused at submit, naming the field. True (the default): each request decides, and
    /// private networks stay blocked unless it opts in.
    pub allow_private_networks: bool,
    /// When not empty, every run is confined within these hosts (each covers its
    /// subdomains): a request's own `allowed_domains` must lie within them, and a request that
    /// names none gets these.
    pub allowed_domains: Vec<String>,
    /// Hosts no run may visit (globs, as in a request's `blocked_domains`), added to every
    /// run's own list, the built-in one included.
    pub blocked_domains: Vec<String>,
}

impl Default for GuardrailFloor {
    fn default() -> Self {
        Self {
            allow_private_networks: true,
            allowed_domains: Vec::new(),
            blocked_domains: Vec::new(),
        }
    }
}

impl GuardrailFloor {
    /// Every entry is a host name or glob, as in a request.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let lists = [
            ("guardrails.allowed_domains", &self.allowed_domains),
            ("guardrails.blocked_domains", &self.blocked_domains),
        ];
        for (field, list) in lists {
            for pattern in list {
                if let Err(message) = check_domain_pattern(pattern) {
                    return Err(ConfigError::Invalid {
                        field,
                        message: format!("entry `{pattern}`: {message}"),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn floors_parse_and_bad_entries_are_named() {
        let config = Config::from_toml_str(
            "[guardrails]\nallow_private_networks = false\nallowed_domains = [\"corp.example\"]\n\
             blocked_domains = [\"*.internal.corp.example\"]",
        )
        .unwrap();
        assert!(!config.guardrails.allow_private_networks);
        assert_eq!(config.guardrails.allowed_domains, ["corp.example"]);
        let err = Config::from_toml_str("[guardrails]\nblocked_domains = [\"https://x.test/\"]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("guardrails.blocked_domains") && err.contains("not a host name"),
            "{err}"
        );
        // The old home of the private-network switch is gone, loudly.
        let err = Config::from_toml_str("[limits]\nallow_private_networks = false")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_private_networks"), "{err}");
    }
}
