//! A fresh PostgreSQL database per test. `scripts/test.sh` starts one throwaway cluster for
//! the whole suite (`scripts/pg-cluster.sh`) and exports its URL as `PILOTHOUSE_TEST_PG_URL`;
//! each test creates a database of its own in it. Run without it (a single `cargo nextest`),
//! a test starts a cluster of its own in a temp dir and stops it when the `TestDb` drops.

use std::path::PathBuf;
use std::process::Command;

/// The variable naming the suite's cluster.
pub const CLUSTER_URL_VAR: &str = "PILOTHOUSE_TEST_PG_URL";

/// A database of this test's own.
pub struct TestDb {
    /// `postgres://…/t_<uuid>`.
    pub url: String,
    /// The cluster this test started, when the suite had none.
    own_cluster: Option<PathBuf>,
}

impl TestDb {
    /// Creates the database (and a cluster first, when the suite has none).
    pub async fn new() -> Self {
        match std::env::var(CLUSTER_URL_VAR) {
            Ok(url) => Self::create(url, None).await,
            Err(_) => Self::own().await,
        }
    }

    /// A database in a cluster of this test's own (one it may restart).
    pub async fn own() -> Self {
        let (url, dir) = start_cluster();
        Self::create(url, Some(dir)).await
    }

    /// Crashes and restarts the test's own cluster (`pg_ctl restart -m immediate`).
    pub fn restart(&self) {
        let dir = self
            .own_cluster
            .as_ref()
            .expect("only a cluster of the test's own restarts");
        let status = Command::new(script())
            .arg("restart")
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "scripts/pg-cluster.sh restart failed");
    }

    async fn create(admin: String, own_cluster: Option<PathBuf>) -> Self {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test cluster at {admin}: {e}"));
        // `name` is ours: `t_` and hex digits.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let base = admin.rsplit_once('/').expect("a database in the URL").0;
        Self {
            url: format!("{base}/{name}"),
            own_cluster,
        }
    }

    /// A connection pool to the database, for a test's own checks.
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = self.own_cluster.take() {
            let _ = Command::new(script()).arg("stop").arg(&dir).status();
        }
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster.sh")
}

/// Starts a cluster in a fresh temp dir; its URL and dir.
fn start_cluster() -> (String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("pilothouse-pg-{}", uuid::Uuid::now_v7().simple()));
    let out = Command::new(script())
        .arg("start")
        .arg(&dir)
        .output()
        .expect("run scripts/pg-cluster.sh");
    assert!(
        out.status.success(),
        "scripts/pg-cluster.sh could not start PostgreSQL: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    (url, dir)
}
