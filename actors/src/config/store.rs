//! `[store]`: where runs are kept. `backend = "file"` (the default) keeps them under
//! `runs_dir` for one node; `backend = "postgres"` keeps runs, the admission queue and the event
//! log in one PostgreSQL database that several nodes share (`store/` in the README's map).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Which store holds the runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// Directories under `runs_dir`: one node.
    #[default]
    File,
    /// One PostgreSQL database shared by every node (`url`).
    Postgres,
}

/// The run store, and for `postgres` the timings of the nodes' leases. Its `Debug` shows the
/// URL without its password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `file` or `postgres`.
    pub backend: StoreBackend,
    /// `postgres://user:password@host:port/database` (also `PILOTHOUSE_STORE__URL`).
    pub url: Option<String>,
    /// This node's name in the `nodes` table; unset: `<hostname>-<pid>-<random>`, new at every
    /// start (a restarted node is a new node: its old runs are the survivors' to settle).
    pub node_id: Option<String>,
    /// Connections this node keeps to the database.
    pub pool_connections: u32,
    /// How often this node renews its lease.
    pub heartbeat_ms: u64,
    /// How long a lease lasts past its last renewal (the database's clock). A node silent for
    /// longer loses its runs: a survivor marks them `interrupted` (or re-queues them).
    pub lease_ms: u64,
    /// A node that could not renew its lease for this long stops claiming and cancels its own
    /// runs before a survivor settles them (less than `lease_ms`).
    pub self_fence_ms: u64,
    /// How often every node looks for runs whose owner's lease expired.
    pub reaper_ms: u64,
    /// How often a node looks for queued runs and cancel requests when no notification came.
    pub poll_ms: u64,
    /// How often a live tail of a run owned by another node reads new events when no
    /// notification came.
    pub tail_ms: u64,
    /// A run whose node was lost before its first action goes back to the queue instead of
    /// ending `interrupted` (actions are not idempotent, so runs that acted never re-run).
    pub requeue_unstarted: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::File,
            url: None,
            node_id: None,
            pool_connections: 8,
            heartbeat_ms: 5_000,
            lease_ms: 20_000,
            self_fence_ms: 15_000,
            reaper_ms: 5_000,
            poll_ms: 1_000,
            tail_ms: 200,
            requeue_unstarted: false,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &self.backend)
            .field("url", &self.url.as_ref().map(|_| self.url_for_display()))
            .field("node_id", &self.node_id)
            .field("pool_connections", &self.pool_connections)
            .field("heartbeat_ms", &self.heartbeat_ms)
            .field("lease_ms", &self.lease_ms)
            .field("self_fence_ms", &self.self_fence_ms)
            .field("reaper_ms", &self.reaper_ms)
            .field("poll_ms", &self.poll_ms)
            .field("tail_ms", &self.tail_ms)
            .field("requeue_unstarted", &self.requeue_unstarted)
            .finish()
    }
}

impl StoreConfig {
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let invalid = |field, message: String| Err(ConfigError::Invalid { field, message });
        if self.backend == StoreBackend::Postgres {
            match self.url.as_deref() {
                None | Some("") => {
                    return invalid(
                        "store.url",
                        "backend = \"postgres\" needs url = \"postgres://user:password@host:port/db\" \
                         (or PILOTHOUSE_STORE__URL)"
                            .into(),
                    );
                }
                Some(url)
                    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") =>
                {
                    return invalid(
                        "store.url",
                        "must start with postgres:// or postgresql://".into(),
                    );
                }
                _ => {}
            }
        }
        if self.pool_connections < 2 {
            return invalid("store.pool_connections", "must be at least 2".into());
        }
        for (field, value) in [
            ("store.heartbeat_ms", self.heartbeat_ms),
            ("store.reaper_ms", self.reaper_ms),
            ("store.poll_ms", self.poll_ms),
            ("store.tail_ms", self.tail_ms),
        ] {
            if value == 0 {
                return invalid(field, "must be at least 1".into());
            }
        }
        if !(self.heartbeat_ms < self.self_fence_ms && self.self_fence_ms < self.lease_ms) {
            return invalid(
                "store.self_fence_ms",
                format!(
                    "must lie between heartbeat_ms ({}) and lease_ms ({}): a node must fence \
                     itself before a survivor takes its runs",
                    self.heartbeat_ms, self.lease_ms
                ),
            );
        }
        Ok(())
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    pub fn url_for_display(&self) -> String {
        let Some(url) = &self.url else {
            return String::new();
        };
        match url::Url::parse(url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(parsed) => parsed.to_string(),
            Err(_) => "(unparseable url)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_password_and_checks_name_the_field() {
        let config = StoreConfig {
            backend: StoreBackend::Postgres,
            url: Some("postgres://ph:s3cr3t-pw@db:5432/ph".into()),
            ..StoreConfig::default()
        };
        let shown = format!("{config:?} {}", config.url_for_display());
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("postgres://ph:***@db:5432/ph"), "{shown}");
        assert!(config.check().is_ok());
        let no_url = StoreConfig {
            url: None,
            ..config.clone()
        };
        assert!(matches!(
            no_url.check(),
            Err(ConfigError::Invalid {
                field: "store.url",
                ..
            })
        ));
        let mysql = StoreConfig {
            url: Some("mysql://db/ph".into()),
            ..config.clone()
        };
        assert!(matches!(
            mysql.check(),
            Err(ConfigError::Invalid {
                field: "store.url",
                ..
            })
        ));
        let late_fence = StoreConfig {
            self_fence_ms: 30_000,
            ..config
        };
        assert!(matches!(
            late_fence.check(),
            Err(ConfigError::Invalid {
                field: "store.self_fence_ms",
                ..
            })
        ));
    }
}
