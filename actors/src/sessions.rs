//! Saved sessions on disk: one file per session, `<[sessions] dir>/<id>.json`, written
//! atomically (a temporary file, fsynced, renamed) with mode 0600 in a 0700 dir. With
//! `[sessions] key_env` set, the state inside is sealed with AES-256-GCM (`sessions/crypto.rs`);
//! the session id is the associated data, so a file copied or renamed to another id does not
//! open. A missing, corrupt, tampered or wrongly-keyed session is a [`SessionError`] that names
//! the session and the fix, never a panic.
//!
//! The files hold secrets, and nothing here logs a value. Restoring a session into a run and
//! saving one from it — through the run's Browser actor, every value added to the run's
//! scrubber first — is `sessions/browser.rs`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::SessionsConfig;
use crate::page_driver::StorageState;

pub(crate) mod browser;
mod crypto;

/// The `format` every session file carries.
const FORMAT: &str = "pilothouse-session/1";
/// Longest session id.
const MAX_ID_CHARS: usize = 64;

/// Checks a session id: `[A-Za-z0-9_-]{1,64}` (it becomes a file name).
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match ok {
        true => Ok(()),
        false => Err(format!(
            "`{id}` is not a session id: use 1 to {MAX_ID_CHARS} letters, digits, `_` or `-`"
        )),
    }
}

impl SessionStore {
    /// The store the config describes.
    pub(crate) fn new(config: &SessionsConfig) -> Self {
        Self {
            dir: config.dir.clone(),
            key_env: config.key_env.clone(),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The key, when `key_env` is set: SHA-256 of the variable's value.
    fn key(&self, id: &str) -> Result<Option<[u8; 32]>, SessionError> {
        let Some(env) = &self.key_env else {
            return Ok(None);
        };
        match std::env::var(env) {
            Ok(value) if !value.is_empty() => Ok(Some(crypto::derive_key(&value))),
            _ => Err(SessionError::KeyUnset {
                id: id.to_owned(),
                env: env.clone(),
            }),
        }
    }

    /// Loads a session (blocking file I/O: call from `spawn_blocking` or admission).
    /// Cookies that expired since it was saved are dropped.
    pub(crate) fn load_blocking(&self, id: &str) -> Result<StorageState, SessionError> {
        let path = self.path(id);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SessionError::Missing {
                    id: id.into(),
                    path,
                });
            }
            Err(e) => {
                return Err(SessionError::Io {
                    id: id.into(),
                    path,
                    error: e.to_string(),
                });
            }
        };
        let mut state = self.decode(id, path, &text)?;
        let now = chrono::Utc::now().timestamp() as f64;
        state.cookies.retain(|c| c.expires.is_none_or(|t| t > now));
        Ok(state)
    }

    /// A session file's state: parsed, and opened when sealed.
    fn decode(&self, id: &str, path: PathBuf, text: &str) -> Result<StorageState, SessionError> {
        let corrupt = |reason: String| SessionError::Corrupt {
            id: id.into(),
            path: path.clone(),
            reason,
        };
        let file: SessionFile = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!(
                "format `{}`, expected `{FORMAT}`",
                file.format
            )));
        }
        match (self.key(id)?, file.sealed, file.state) {
            (Some(key), Some(sealed), None) => crypto::open(&key, id, &sealed)
                .map_err(|()| SessionError::Tampered {
                    id: id.into(),
                    path: path.clone(),
                })
                .and_then(|plain| {
                    serde_json::from_slice(&plain).map_err(|e| corrupt(e.to_string()))
                }),
            (None, None, Some(state)) => Ok(state),
            (Some(_), None, Some(_)) => Err(SessionError::Unsealed {
                id: id.into(),
                path: path.clone(),
            }),
            (None, Some(_), None) => Err(SessionError::Sealed {
                id: id.into(),
                path: path.clone(),
            }),
            _ => Err(corrupt(
                "it holds neither a state nor a sealed state".into(),
            )),
        }
    }

    /// Saves a session atomically, mode 0600 in a 0700 dir (blocking file I/O).
    pub(crate) fn save_blocking(&self, id: &str, state: &StorageState) -> Result<(), SessionError> {
        let path = self.path(id);
        let io = |e: std::io::Error| SessionError::Io {
            id: id.into(),
            path: path.clone(),
            error: e.to_string(),
        };
        let file = match self.key(id)? {
            Some(key) => {
                let plain = serde_json::to_vec(state).map_err(|e| io(std::io::Error::other(e)))?;
                SessionFile {
                    format: FORMAT.into(),
                    id: id.into(),
                    sealed: Some(crypto::seal(&key, id, &plain)),
                    state: None,
                }
            }
            None => SessionFile {
                format: FORMAT.into(),
                id: id.into(),
                sealed: None,
                state: Some(state.clone()),
            },
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| io(std::io::Error::other(e)))?;
        write_private(&self.dir, &path, &bytes).map_err(io)
    }

    /// [`Self::load_blocking`] off the async threads.
    pub(crate) async fn load(&self, id: &str) -> Result<StorageState, SessionError> {
        self.off_thread(id, |store, id| store.load_blocking(id))
            .await
    }

    /// [`Self::save_blocking`] off the async threads.
    pub(crate) async fn save(&self, id: &str, state: StorageState) -> Result<(), SessionError> {
        self.off_thread(id, move |store, id| store.save_blocking(id, &state))
            .await
    }

    /// `work` on session `id` in a blocking thread; a thread that died is an I/O error naming
    /// the session.
    async fn off_thread<T: Send + 'static>(
        &self,
        id: &str,
        work: impl FnOnce(&Self, &str) -> Result<T, SessionError> + Send + 'static,
    ) -> Result<T, SessionError> {
        let (store, owned) = (self.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || work(&store, &owned))
            .await
            .unwrap_or_else(|e| {
                Err(SessionError::Io {
                    id: id.to_owned(),
                    path: self.dir.clone(),
                    error: e.to_string(),
                })
            })
    }
}

/// Writes `bytes` to `path` through a fresh 0600 temporary file in `dir` (created 0700), fsynced
/// and renamed over it, so a reader sees the old file or the new one, never half of one.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("session");
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::now_v7().simple()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Where sessions are kept, and the name of the variable holding their key.
#[derive(Clone, Debug)]
pub(crate) struct SessionStore {
    dir: PathBuf,
    key_env: Option<String>,
}

/// A session file: the state in the clear, or sealed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    format: String,
    /// The id it was saved under (informational: the seal binds the id, not this field).
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<StorageState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<crypto::Sealed>,
}

/// Why a session could not be loaded or saved; every message names the session and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("session `{id}` does not exist (no {}); save it first with \"session\": {{\"save\": \"{id}\"}} or a playbook's auth block", .path.display())]
    Missing { id: String, path: PathBuf },
    #[error("session `{id}`: cannot use {}: {error}", .path.display())]
    Io {
        id: String,
        path: PathBuf,
        error: String,
    },
    #[error("session `{id}` is corrupt ({reason}); delete {} and save the session again", .path.display())]
    Corrupt {
        id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("session `{id}` cannot be opened: {} was altered, belongs to another session id, or was sealed with another key ([sessions] key_env); delete it and save the session again", .path.display())]
    Tampered { id: String, path: PathBuf },
    #[error("session `{id}` is encrypted ({}) but [sessions] key_env is not set; set it to the variable that holds the key", .path.display())]
    Sealed { id: String, path: PathBuf },
    #[error("session `{id}` is stored unencrypted ({}) but [sessions] key_env is set; delete it and save the session again", .path.display())]
    Unsealed { id: String, path: PathBuf },
    #[error(
        "session `{id}`: the environment variable `{env}` named by [sessions] key_env is not set or empty; set it (sessions are never stored unencrypted when key_env is set)"
    )]
    KeyUnset { id: String, env: String },
}

#[cfg(test)]
mod tests;
