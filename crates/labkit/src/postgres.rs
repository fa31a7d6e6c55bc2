//! A fresh Postgres database per test.
//!
//! Each [`TestDb`] is a real database created from the admin URL (`CREATE
//! DATABASE`), so a test can run migrations, take locks and even drop tables
//! without touching any other test running in parallel. A test that passes has its
//! database dropped; a test that fails keeps it and says its name, so you can look
//! at what the code left behind (unless `LAB_KEEP_FAILED=0`, see
//! [`crate::cleanup::keep_failed`]).

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor};

use crate::service::{self, Endpoint, Service};

pub struct TestDb {
    endpoint: Endpoint,
    name: String,
    url: String,
    pool: PgPool,
}

impl TestDb {
    /// Connecting (including TCP) must answer within this.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A new, empty database on the resolved Postgres (see [`crate::service`]).
    pub async fn new() -> anyhow::Result<TestDb> {
        let endpoint = service::resolve(Service::Postgres).await?;
        TestDb::create_on(endpoint).await
    }

    /// A new, empty database on a given Postgres.
    pub async fn create_on(endpoint: Endpoint) -> anyhow::Result<TestDb> {
        endpoint.probe().await?;
        let admin = connect(&endpoint, &endpoint.url, 1).await?;
        let name = crate::unique::name("lab");
        // Identifiers cannot be bound as parameters; `name` is generated above from
        // [a-z0-9_] only, so formatting it in is safe.
        crate::within(
            Self::CONNECT_TIMEOUT,
            format!("CREATE DATABASE on {}", endpoint.describe()),
            admin.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))),
        )
        .await?
        .with_context(|| format!("creating database {name} on {}", endpoint.describe()))?;
        admin.close().await;

        let url = database_url(&endpoint.url, &name)?;
        let pool = connect(&endpoint, &url, 10).await?;
        Ok(TestDb {
            endpoint,
            name,
            url,
            pool,
        })
    }

    /// A pool on this test's database (up to 10 connections).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Another, separate pool on the same database: for code that must own its
    /// pool (a service under test), or to simulate a second process.
    pub async fn new_pool(&self, max_connections: u32) -> anyhow::Result<PgPool> {
        connect(&self.endpoint, &self.url, max_connections).await
    }

    /// URL of this test's database.
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

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() && crate::cleanup::keep_failed() {
            eprintln!(
                "labkit: the test failed, so its database {name} is kept for inspection:\n  \
                 psql '{url}'\n  drop it with: psql '{admin}' -c 'DROP DATABASE {name} WITH (FORCE)'",
                name = self.name,
                url = self.url,
                admin = self.endpoint.url,
            );
            return;
        }
        let endpoint = self.endpoint.clone();
        let name = self.name.clone();
        crate::cleanup::run_blocking(
            format!("database {name}"),
            Duration::from_secs(10),
            async move {
                let admin = connect(&endpoint, &endpoint.url, 1).await?;
                // FORCE (Postgres 13+) ends sessions still open on it, such as pools
                // the test handed to background tasks.
                admin
                    .execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await?;
                admin.close().await;
                Ok(())
            },
        );
    }
}

async fn connect(endpoint: &Endpoint, url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let attempt = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(TestDb::CONNECT_TIMEOUT)
        .connect(url);
    let result = crate::within(TestDb::CONNECT_TIMEOUT, endpoint.describe(), attempt).await;
    match result {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!(
            "could not connect to {}; {}",
            endpoint.describe(),
            endpoint.unreachable_help()
        ))),
        Err(e) => Err(e.context(endpoint.unreachable_help())),
    }
}

/// The admin URL with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url =
        url::Url::parse(admin_url).with_context(|| format!("not a Postgres URL: {admin_url}"))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database name replaces the path and keeps credentials and options.
    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url("postgres://u:p@h:5432/postgres?sslmode=disable", "lab_x").unwrap(),
            "postgres://u:p@h:5432/lab_x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h", "lab_y").unwrap(),
            "postgres://h/lab_y"
        );
    }
}
