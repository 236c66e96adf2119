//! A request's `downloads`: whether the run may keep files a page downloads, and how large one
//! may grow. Refused by default; `[limits] max_download_bytes` bounds what a request may ask
//! for (0 forbids downloads on the server).

use serde::{Deserialize, Serialize};

use super::validate::Validator;
use crate::config::LimitsConfig;

impl Validator<'_> {
    /// `downloads` against itself and the server's `[limits] max_download_bytes`.
    pub(super) fn downloads(&mut self, spec: &DownloadSpec) {
        let ceiling = self.ceilings().max_download_bytes;
        if !spec.allow {
            if spec.max_bytes.is_some() {
                self.push(
                    "downloads.max_bytes",
                    "applies only when downloads.allow is true; set \"allow\": true or remove it",
                );
            }
            return;
        }
        if ceiling == 0 {
            self.push(
                "downloads.allow",
                "this server does not let runs keep downloads ([limits] max_download_bytes = 0); \
                 remove it",
            );
            return;
        }
        self.bounded(
            "downloads.max_bytes",
            spec.max_bytes,
            "max_download_bytes",
            ceiling,
        );
    }
}

/// A request's `downloads`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadSpec {
    /// Keep files the page downloads, in the run's recording (default: every download refused).
    #[serde(default)]
    pub allow: bool,
    /// A download is cancelled, its partial file removed, once it passes this many bytes.
    /// Unset: the server's `[limits] max_download_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

impl DownloadSpec {
    /// True when the request did not mention downloads.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The size cap of an allowed download; `None` when downloads are refused.
    pub fn max_bytes(&self, limits: &LimitsConfig) -> Option<u64> {
        self.allow
            .then(|| self.max_bytes.unwrap_or(limits.max_download_bytes))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::request::RunRequest;

    fn errors(downloads: &str, limits: &str) -> Vec<String> {
        let config = Config::from_toml_str(limits).unwrap();
        let request = RunRequest::from_json(&format!(
            r#"{{"driver": {{"type": "script", "steps": [{{"action": "goto", "url": "https://example.com/"}}]}},
                "downloads": {downloads}}}"#
        ))
        .unwrap();
        match request.validate(&config) {
            Ok(()) => Vec::new(),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn downloads_are_refused_unless_allowed() {
        let request = RunRequest::from_json(
            r#"{"driver": {"type": "script", "steps": [{"action": "goto", "url": "https://example.com/"}]}}"#,
        )
        .unwrap();
        let limits = Config::default().limits;
        assert_eq!(request.downloads.max_bytes(&limits), None);
        let allowed = RunRequest::from_json(
            r#"{"driver": {"type": "script", "steps": []}, "start_url": "https://example.com/",
                "downloads": {"allow": true}}"#,
        )
        .unwrap();
        assert_eq!(
            allowed.downloads.max_bytes(&limits),
            Some(limits.max_download_bytes)
        );
    }

    #[test]
    fn each_mistake_names_its_field() {
        assert_eq!(errors(r#"{"allow": true, "max_bytes": 1000}"#, ""), [""; 0]);
        assert_eq!(
            errors(r#"{"max_bytes": 1000}"#, ""),
            [
                "downloads.max_bytes: applies only when downloads.allow is true; set \"allow\": true or remove it"
            ]
        );
        assert_eq!(
            errors(r#"{"allow": true, "max_bytes": 0}"#, ""),
            ["downloads.max_bytes: must be at least 1, got 0"]
        );
        assert_eq!(
            errors(
                r#"{"allow": true, "max_bytes": 5000}"#,
                "[limits]\nmax_download_bytes = 4096"
            ),
            [
                "downloads.max_bytes: 5000 exceeds the server's ceiling [limits] max_download_bytes = 4096"
            ]
        );
        assert_eq!(
            errors(r#"{"allow": true}"#, "[limits]\nmax_download_bytes = 0"),
            [
                "downloads.allow: this server does not let runs keep downloads ([limits] max_download_bytes = 0); remove it"
            ]
        );
        let unknown = RunRequest::from_json(
            r#"{"driver": {"type": "script", "steps": []}, "downloads": {"allowed": true}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("downloads.allowed"), "{unknown}");
    }
}
