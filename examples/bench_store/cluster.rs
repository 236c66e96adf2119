//! The PostgreSQL the benchmark measures: a throwaway cluster started with
//! `scripts/pg-cluster.sh` (stopped and removed when the [`Cluster`] guard drops, so also when
//! the benchmark fails or is interrupted), or the server at `--pg-url`. Each section gets a fresh
//! database of its own, so one section's rows (a queue of thousands of runs) never weigh on the
//! next.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, bail};

/// The server, and the databases made in it.
pub(crate) struct Cluster {
    /// A URL of the server's maintenance database, used to create the others.
    admin_url: String,
    /// The directory of the cluster this program started, when it started one.
    own_dir: Option<PathBuf>,
    /// Databases made on a server this program did not start (dropped at the end).
    made: Mutex<Vec<String>>,
}

impl Cluster {
    /// Uses the server at `pg_url`, or starts a throwaway one on a free loopback port.
    pub(crate) fn start(pg_url: Option<String>) -> anyhow::Result<Self> {
        if let Some(url) = pg_url {
            return Ok(Self {
                admin_url: url,
                own_dir: None,
                made: Mutex::new(Vec::new()),
            });
        }
        let dir = std::env::temp_dir().join(format!(
            "pilothouse-bench-store-{}",
            uuid::Uuid::now_v7().simple()
        ));
        // The guard exists before the script runs: a half-started cluster is removed too.
        let mut cluster = Self {
            admin_url: String::new(),
            own_dir: Some(dir.clone()),
            made: Mutex::new(Vec::new()),
        };
        let out = Command::new(script())
            .arg("start")
            .arg(&dir)
            .output()
            .context("run scripts/pg-cluster.sh")?;
        if !out.status.success() {
            bail!(
                "scripts/pg-cluster.sh could not start PostgreSQL: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        cluster.admin_url = String::from_utf8(out.stdout)?.trim().to_owned();
        Ok(cluster)
    }

    /// True when this program started the server (and so knows it is idle but for itself).
    pub(crate) fn is_own(&self) -> bool {
        self.own_dir.is_some()
    }

    /// Creates a fresh database for one section; its URL.
    pub(crate) async fn database(&self, section: &str) -> anyhow::Result<String> {
        let name = format!("bench_{section}_{}", uuid::Uuid::now_v7().simple());
        let mut conn = self.admin().await?;
        // `name` is ours: a fixed word and hex digits.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("create database {name}"))?;
        if !self.is_own() {
            self.made.lock().unwrap().push(name.clone());
        }
        Ok(with_database(&self.admin_url, &name))
    }

    /// The server's version and the settings that decide what a commit costs.
    pub(crate) async fn describe(&self) -> anyhow::Result<String> {
        let mut conn = self.admin().await?;
        let mut shown = Vec::new();
        for setting in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
        ] {
            let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
                .fetch_one(&mut conn)
                .await?;
            shown.push(format!("{setting} = {value}"));
        }
        Ok(shown.join(", "))
    }

    /// Drops the databases made on a server this program did not start (its own cluster is
    /// removed whole when the guard drops).
    pub(crate) async fn drop_databases(&self) {
        let names = std::mem::take(&mut *self.made.lock().unwrap());
        if names.is_empty() {
            return;
        }
        let Ok(mut conn) = self.admin().await else {
            eprintln!("could not reach the server to drop the databases {names:?}");
            return;
        };
        for name in names {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await
            {
                eprintln!("could not drop database {name}: {error}");
            }
        }
    }

    async fn admin(&self) -> anyhow::Result<sqlx::PgConnection> {
        <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin_url)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {}", self.admin_url))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = self.own_dir.take() {
            let stopped = Command::new(script()).arg("stop").arg(&dir).status();
            if !matches!(stopped, Ok(s) if s.success()) {
                eprintln!(
                    "could not stop the benchmark's PostgreSQL: run `scripts/pg-cluster.sh stop {}`",
                    dir.display()
                );
            }
        }
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster.sh")
}

/// `url` with its database replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "b"),
            "postgres://u@h:5/b"
        );
        assert_eq!(with_database("postgres://u@h:5", "b"), "postgres://u@h:5/b");
        assert_eq!(
            with_database("postgres://u@h/x?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
    }
}
