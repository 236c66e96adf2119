//! Where a run's model calls go: the endpoint and model of the request (an agent's spec, a
//! playbook's hand-off agent) or of `[agent]`, and which key they carry — the request's own,
//! or the host's only for an endpoint the host trusts.

use super::Endpoint;
use crate::request::AgentSpec;

/// Where `spec`'s model calls go: its own endpoint, model and key, else `[agent]`'s (the
/// host's key only for an endpoint the host trusts); `warn` hears why a key was withheld.
/// Shared by the agent and `llm_extract`.
pub(crate) fn endpoint_for(
    spec: &AgentSpec,
    config: &crate::config::AgentConfig,
    warn: impl FnOnce(String),
) -> Result<Endpoint, String> {
    let base_url = spec
        .base_url
        .clone()
        .or_else(|| config.base_url.clone())
        .ok_or("no model endpoint: set driver.base_url or [agent] base_url")?;
    let model = spec
        .model
        .clone()
        .or_else(|| config.model.clone())
        .ok_or("no model: set driver.model or [agent] model")?;
    let read_env = |var: &str| std::env::var(var).ok();
    let api_key = match api_key_for(spec.api_key.as_ref(), config, &base_url, read_env) {
        ApiKey::Own(key) | ApiKey::Host(key) => Some(key),
        ApiKey::None => None,
        ApiKey::Withheld => {
            warn(format!(
                "{base_url} is not a trusted model endpoint ([agent] base_url or \
                 allowed_base_urls): calling it without the server's key"
            ));
            None
        }
    };
    Ok(Endpoint {
        base_url: base_url.trim_end_matches('/').to_owned(),
        model,
        api_key,
        reasoning_effort: spec
            .reasoning_effort
            .or(config.reasoning_effort)
            .map(crate::request::ReasoningEffort::as_str),
    })
}

/// Which key a model call carries.
#[derive(Debug, PartialEq, Eq)]
enum ApiKey {
    /// The request's own `api_key`.
    Own(String),
    /// The host's, from `[agent] api_key_env`: the endpoint is one the host trusts.
    Host(String),
    /// None: the host has no key set.
    None,
    /// None: the host has one, but the endpoint is not one it trusts.
    Withheld,
}

/// The key for a call to `base_url`. Validation refuses a request that names an untrusted
/// endpoint without its own key; this is the second line: the host's key never leaves for an
/// endpoint it does not trust, whatever path the spec took to get here.
fn api_key_for(
    own: Option<&crate::request::Secret>,
    config: &crate::config::AgentConfig,
    base_url: &str,
    read_env: impl FnOnce(&str) -> Option<String>,
) -> ApiKey {
    if let Some(key) = own {
        return ApiKey::Own(key.expose().to_owned());
    }
    match read_env(&config.api_key_env).filter(|k| !k.is_empty()) {
        None => ApiKey::None,
        Some(_) if !config.sends_host_key_to(base_url) => ApiKey::Withheld,
        Some(key) => ApiKey::Host(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;
    use crate::request::Secret;

    #[test]
    fn the_host_key_is_withheld_from_untrusted_endpoints() {
        let config = AgentConfig {
            base_url: Some("https://api.openai.com/v1".into()),
            allowed_base_urls: vec!["http://127.0.0.1:8000/v1".into()],
            api_key_env: "HOST_KEY".into(),
            ..AgentConfig::default()
        };
        let env = |var: &str| (var == "HOST_KEY").then(|| "host-secret".to_owned());
        let key = |own: Option<&Secret>, url: &str| api_key_for(own, &config, url, env);
        assert_eq!(
            key(None, "https://api.openai.com/v1/"),
            ApiKey::Host("host-secret".into())
        );
        assert_eq!(
            key(None, "http://127.0.0.1:8000/v1"),
            ApiKey::Host("host-secret".into())
        );
        assert_eq!(key(None, "https://evil.test/v1"), ApiKey::Withheld);
        let own = Secret::new("theirs");
        assert_eq!(
            key(Some(&own), "https://evil.test/v1"),
            ApiKey::Own("theirs".into())
        );
        assert_eq!(
            api_key_for(None, &config, "https://evil.test/v1", |_| None),
            ApiKey::None
        );
    }
}
