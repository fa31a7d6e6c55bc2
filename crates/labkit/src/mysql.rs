//! A fresh MariaDB database per test, the way [`crate::TestDb`] is for Postgres.
//!
//! MariaDB calls a schema a database, and `CREATE DATABASE` is cheap, so each
//! [`TestMyDb`] gets its own: tests that lock rows, change isolation levels or
//! drop tables never meet. A passing test's database is dropped; a failing
//! test's is kept and named (unless `LAB_KEEP_FAILED=0`).

use std::time::Duration;

use anyhow::Context;
use sqlx::mysql::MySqlPool;
use sqlx::{AssertSqlSafe, Executor};

use crate::service::{self, Endpoint, Service};

pub struct TestMyDb {
    endpoint: Endpoint,
    name: String,
    url: String,
    pool: MySqlPool,
}

impl TestMyDb {
    /// Connecting (including TCP) must answer within this.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A new, empty database on the resolved MariaDB (see [`crate::service`]).
    pub async fn new() -> anyhow::Result<TestMyDb> {
        let endpoint = service::resolve(Service::Mysql).await?;
        TestMyDb::create_on(endpoint).await
    }

    /// A new, empty database on a given MariaDB.
    pub async fn create_on(endpoint: Endpoint) -> anyhow::Result<TestMyDb> {
        endpoint.probe().await?;
        let admin = connect(&endpoint, &endpoint.url, 1).await?;
        let name = crate::unique::name("lab");
        // `name` is generated from [a-z0-9_] only, so formatting it in is safe.
        crate::within(
            Self::CONNECT_TIMEOUT,
            format!("CREATE DATABASE on {}", endpoint.describe()),
            admin.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))),
        )
        .await?
        .with_context(|| format!("creating database {name} on {}", endpoint.describe()))?;
        admin.close().await;

        let url = crate::sqldb::database_url(&endpoint.url, &name)?;
        let pool = connect(&endpoint, &url, 10).await?;
        Ok(TestMyDb {
            endpoint,
            name,
            url,
            pool,
        })
    }

    /// A pool on this test's database (up to 10 connections).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Another, separate pool on the same database.
    pub async fn new_pool(&self, max_connections: u32) -> anyhow::Result<MySqlPool> {
        connect(&self.endpoint, &self.url, max_connections).await
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for TestMyDb {
    fn drop(&mut self) {
        if std::thread::panicking() && crate::cleanup::keep_failed() {
            eprintln!(
                "labkit: the test failed, so its MariaDB database {name} is kept for inspection:\n  \
                 mariadb '{url}'\n  drop it with: DROP DATABASE {name}",
                name = self.name,
                url = self.url,
            );
            return;
        }
        let endpoint = self.endpoint.clone();
        let name = self.name.clone();
        crate::cleanup::run_blocking(
            format!("MariaDB database {name}"),
            Duration::from_secs(10),
            async move {
                let admin = connect(&endpoint, &endpoint.url, 1).await?;
                // MariaDB has no DROP … WITH (FORCE): a session still inside a
                // transaction on one of its tables would make the DROP wait on
                // its metadata lock, so end the database's sessions first.
                let sessions: Vec<(i64,)> = sqlx::query_as(
                    "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                )
                .bind(&name)
                .fetch_all(&admin)
                .await?;
                for (id,) in sessions {
                    // It may have ended on its own in between: not an error.
                    let _ = admin.execute(AssertSqlSafe(format!("KILL {id}"))).await;
                }
                admin
                    .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                    .await?;
                admin.close().await;
                Ok(())
            },
        );
    }
}

async fn connect(
    endpoint: &Endpoint,
    url: &str,
    max_connections: u32,
) -> anyhow::Result<MySqlPool> {
    crate::sqldb::connect(endpoint, url, max_connections, TestMyDb::CONNECT_TIMEOUT).await
}
