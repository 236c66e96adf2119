//! `[sessions]`: where saved browser sessions are kept and the key they are sealed with.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Saved sessions (`"session": {"save"|"load": ID}` and playbook `auth` blocks): one file per
/// session, `<dir>/<id>.json`, mode 0600 in a 0700 dir.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// The directory of session files (relative to the working directory).
    pub dir: PathBuf,
    /// The name of an environment variable holding the key that seals session files with
    /// AES-256-GCM (the key is SHA-256 of the variable's value); unset: files are stored
    /// unencrypted. The value itself never appears in the config.
    pub key_env: Option<String>,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("sessions"),
            key_env: None,
        }
    }
}
