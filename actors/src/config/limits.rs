//! `[limits]`: ceilings a request cannot exceed, whatever it asks for. The `[defaults]` fill a
//! request's unset limits; these bound what it sets itself, so one request cannot hold a slot
//! for a day, dispatch a million actions or carry megabytes of secrets and labels.

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// The least `max_result_bytes` and `max_data_bytes` may be.
const MIN_DATA_CAP_BYTES: usize = 1024;

/// Ceilings on what a request may ask for; a request past one is refused at validation with
/// the field and the ceiling named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most a request's `limits.timeout_seconds` may be.
    pub max_run_timeout_seconds: u64,
    /// Most a request's `limits.max_steps`, and an agent driver's `max_steps`, may be.
    pub max_steps: u32,
    /// Most a request's `limits.action_timeout_ms`, and a step's own `timeout_ms` (`wait_for`),
    /// may be.
    pub max_action_timeout_ms: u64,
    /// Most a request's `limits.navigation_timeout_ms` may be.
    pub max_navigation_timeout_ms: u64,
    /// Most named secrets in a request's `credentials`.
    pub max_credentials: usize,
    /// Most bytes of one credential's value.
    pub max_credential_bytes: usize,
    /// Most entries in a request's `labels`.
    pub max_labels: usize,
    /// Most bytes of one label's key, and of its value.
    pub max_label_bytes: usize,
    /// Most bytes of one action result a run keeps (its text, value, URL and error each),
    /// after credentials are scrubbed; longer ones are cut with a marker naming this key.
    pub max_result_bytes: usize,
    /// Most bytes of page-derived data one run keeps in all (stored values, landing URLs,
    /// errors, refused request targets, the final DOM); past it, results are cut with a marker.
    pub max_data_bytes: usize,
    /// Most bytes a request's `downloads.max_bytes` may be, and the cap of an allowed download
    /// that sets none. 0: no request may allow downloads.
    pub max_download_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_run_timeout_seconds: 3_600,
            max_steps: 1_000,
            max_action_timeout_ms: 600_000,
            max_navigation_timeout_ms: 120_000,
            max_credentials: 32,
            max_credential_bytes: 4_096,
            max_labels: 32,
            max_label_bytes: 256,
            max_result_bytes: 1 << 20,
            max_data_bytes: 8 << 20,
            max_download_bytes: 100 * 1024 * 1024,
        }
    }
}

impl LimitsConfig {
    /// The ceilings admit the config's own defaults (else every request that leaves a limit
    /// unset would run past its ceiling).
    pub(super) fn check(&self, config: &Config) -> Result<(), ConfigError> {
        for (field, value) in [
            ("limits.max_result_bytes", self.max_result_bytes),
            ("limits.max_data_bytes", self.max_data_bytes),
        ] {
            if value < MIN_DATA_CAP_BYTES {
                return Err(ConfigError::Invalid {
                    field,
                    message: format!(
                        "{value} is below {MIN_DATA_CAP_BYTES} bytes; a run could not keep even a \
                         short result, raise it"
                    ),
                });
            }
        }
        let d = &config.defaults;
        let pairs: [(&'static str, u64, &str, u64); 5] = [
            (
                "defaults.run_timeout_seconds",
                d.run_timeout_seconds,
                "max_run_timeout_seconds",
                self.max_run_timeout_seconds,
            ),
            (
                "defaults.max_steps",
                d.max_steps.into(),
                "max_steps",
                self.max_steps.into(),
            ),
            (
                "defaults.action_timeout_ms",
                d.action_timeout_ms,
                "max_action_timeout_ms",
                self.max_action_timeout_ms,
            ),
            (
                "defaults.navigation_timeout_ms",
                d.navigation_timeout_ms,
                "max_navigation_timeout_ms",
                self.max_navigation_timeout_ms,
            ),
            (
                "agent.max_steps",
                config.agent.max_steps.into(),
                "max_steps",
                self.max_steps.into(),
            ),
        ];
        for (field, value, ceiling, max) in pairs {
            if value > max {
                return Err(ConfigError::Invalid {
                    field,
                    message: format!(
                        "{value} exceeds [limits] {ceiling} = {max}; lower it or raise the ceiling"
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_fit_under_the_ceilings() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn a_default_above_its_ceiling_is_named() {
        let err = Config::from_toml_str(
            "[defaults]\nrun_timeout_seconds = 7200\n[limits]\nmax_run_timeout_seconds = 3600",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("defaults.run_timeout_seconds")
                && err.contains("7200 exceeds [limits] max_run_timeout_seconds = 3600"),
            "{err}"
        );
        let err = Config::from_toml_str("[limits]\nmax_navigation_timeout_ms = 1000")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("defaults.navigation_timeout_ms: 7000 exceeds"),
            "{err}"
        );
        let err = Config::from_toml_str("[agent]\nmax_steps = 2000")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("agent.max_steps: 2000 exceeds [limits] max_steps = 1000"),
            "{err}"
        );
    }

    #[test]
    fn data_caps_have_a_floor() {
        let err = Config::from_toml_str("[limits]\nmax_result_bytes = 10")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("limits.max_result_bytes: 10 is below 1024"),
            "{err}"
        );
        let config = Config::from_toml_str("[limits]\nmax_data_bytes = 4096").unwrap();
        assert_eq!(config.limits.max_data_bytes, 4_096);
        assert_eq!(config.limits.max_result_bytes, 1 << 20);
    }

    #[test]
    fn ceilings_can_be_raised_with_their_defaults() {
        let config = Config::from_toml_str(
            "[defaults]\nrun_timeout_seconds = 7200\n[limits]\nmax_run_timeout_seconds = 7200",
        )
        .unwrap();
        assert_eq!(config.limits.max_run_timeout_seconds, 7_200);
    }
}
