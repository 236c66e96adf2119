//! Where the host's model key may go: only to `[agent] base_url` and the endpoints listed in
//! `[agent] allowed_base_urls`. A request may name another endpoint, but then it brings its own
//! key; otherwise anyone who can submit a run could send the host's key to a server they run.

use super::AgentConfig;

impl AgentConfig {
    /// Whether the key from `api_key_env` may be sent to `base_url`: it is `base_url` or one of
    /// `allowed_base_urls`, compared normalized (scheme and host lower-cased, default port and
    /// trailing `/` dropped).
    pub fn sends_host_key_to(&self, base_url: &str) -> bool {
        let wanted = normalized_endpoint(base_url);
        self.base_url
            .iter()
            .chain(&self.allowed_base_urls)
            .any(|trusted| normalized_endpoint(trusted) == wanted)
    }
}

/// `HTTPS://API.Example.com:443/v1/` → `https://api.example.com/v1`; the path keeps its case.
/// Text that is not a URL is only trimmed (it then matches itself and nothing else).
pub(crate) fn normalized_endpoint(url: &str) -> String {
    let url = url.trim();
    match url::Url::parse(url) {
        Ok(parsed) => parsed.as_str().trim_end_matches('/').to_owned(),
        Err(_) => url.trim_end_matches('/').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: Option<&str>, allowed: &[&str]) -> AgentConfig {
        AgentConfig {
            base_url: base_url.map(str::to_owned),
            allowed_base_urls: allowed.iter().map(|s| (*s).to_owned()).collect(),
            ..AgentConfig::default()
        }
    }

    #[test]
    fn the_host_key_goes_to_the_configured_endpoints_only() {
        let c = config(
            Some("https://api.openai.com/v1"),
            &["http://127.0.0.1:8000/v1/"],
        );
        assert!(c.sends_host_key_to("https://api.openai.com/v1"));
        assert!(c.sends_host_key_to("HTTPS://API.OpenAI.com:443/v1/"));
        assert!(c.sends_host_key_to("http://127.0.0.1:8000/v1"));
        assert!(!c.sends_host_key_to("https://api.openai.com.evil.test/v1"));
        assert!(!c.sends_host_key_to("https://evil.test/v1"));
        assert!(
            !c.sends_host_key_to("http://api.openai.com/v1"),
            "scheme counts"
        );
        assert!(
            !c.sends_host_key_to("http://127.0.0.1:8001/v1"),
            "port counts"
        );
        assert!(
            !c.sends_host_key_to("https://api.openai.com/V1"),
            "path keeps its case"
        );
        assert!(!config(None, &[]).sends_host_key_to("https://api.openai.com/v1"));
    }
}
