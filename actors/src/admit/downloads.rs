//! A request's `downloads` against itself and the server's `[limits] max_download_bytes`
//! (0 forbids downloads on the server).

use super::Validator;
use crate::request::DownloadSpec;

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
