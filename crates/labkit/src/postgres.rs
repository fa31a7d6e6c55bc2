//! A fresh Postgres database per test.
//!
//! Each [`TestDb`] is a real database created from the admin URL (`CREATE
//! DATABASE`), so a test can run migrations, take locks and even drop tables
//! without touching any other test running in parallel. A test that passes has its
//! database dropped; a test that fails keeps it and says its name, so you can look
//! at what the code left behind (unless `LAB_KEEP_FAILED=0`, see
//! [`crate::cleanup::keep_failed`]).
//!
//! Some lessons need a big table (a plan only changes shape when there is
//! something to scan). Seeding millions of rows per test would cost minutes, so
//! [`ensure_template`] seeds a *template* database once per server and
//! [`TestDb::from_template`] gives each test its own copy of it: `CREATE
//! DATABASE … TEMPLATE` copies files, far faster than inserting the rows again.

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgPool;
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
        TestDb::create(endpoint, None).await
    }

    /// A new database on the resolved Postgres, a copy of `template` (made by
    /// [`ensure_template`]): the test owns the copy, and can change it freely.
    pub async fn from_template(template: &str) -> anyhow::Result<TestDb> {
        check_identifier(template)?;
        let endpoint = service::resolve(Service::Postgres).await?;
        TestDb::create(endpoint, Some(template)).await
    }

    async fn create(endpoint: Endpoint, template: Option<&str>) -> anyhow::Result<TestDb> {
        endpoint.probe().await?;
        let admin = connect(&endpoint, &endpoint.url, 1).await?;
        let name = crate::unique::name("lab");
        // Identifiers cannot be bound as parameters; `name` is generated above from
        // [a-z0-9_] only, and a template's name is checked to be, so formatting
        // them in is safe.
        let sql = match template {
            None => format!("CREATE DATABASE {name}"),
            Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
        };
        // A copy waits (up to five seconds, Postgres's own bound) for sessions
        // still on the template to leave, such as an autovacuum worker.
        let limit = match template {
            None => Self::CONNECT_TIMEOUT,
            Some(_) => Self::CONNECT_TIMEOUT * 6,
        };
        crate::within(
            limit,
            format!("CREATE DATABASE on {}", endpoint.describe()),
            admin.execute(AssertSqlSafe(sql)),
        )
        .await?
        .with_context(|| match template {
            None => format!("creating database {name} on {}", endpoint.describe()),
            Some(t) => format!(
                "copying template database {t} to {name} on {} (a session left connected to \
                 {t}, a psql for instance, makes the copy fail)",
                endpoint.describe()
            ),
        })?;
        admin.close().await;

        let url = crate::sqldb::database_url(&endpoint.url, &name)?;
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
    crate::sqldb::connect(endpoint, url, max_connections, TestDb::CONNECT_TIMEOUT).await
}

/// Make sure a template database `{family}_{version}` exists on the resolved
/// Postgres, running `seed` on a pool of a fresh database the first time, and
/// return its name, for [`TestDb::from_template`].
///
/// The template is a cache: it stays on the server after the tests, so the next
/// run copies it instead of seeding again. `version` names what it was seeded
/// from (a hash of the schema and the generator, say), so a changed seed makes a
/// new template, and the family's older versions are dropped (best effort).
///
/// Many test threads and processes may ask at once: a session advisory lock
/// makes one of them seed while the others wait (up to `limit`, as the seeding
/// itself), and the template appears under its name only when complete (it is
/// seeded under another name and renamed), so nobody copies half a seed.
pub async fn ensure_template<F, Fut>(
    family: &str,
    version: &str,
    limit: Duration,
    seed: F,
) -> anyhow::Result<String>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let name = format!("{family}_{version}");
    check_identifier(&name)?;
    let endpoint = service::resolve(Service::Postgres).await?;
    endpoint.probe().await?;
    // Two connections: one holds the advisory lock, the other does the work.
    let admin = connect(&endpoint, &endpoint.url, 2).await?;
    if template_exists(&admin, &name).await? {
        admin.close().await;
        return Ok(name);
    }
    // A session-level advisory lock belongs to one connection: hold it on one.
    let mut conn = admin.acquire().await?;
    let key = format!("labkit template {name}");
    crate::within(
        limit,
        format!("the lock on template {name} (another test is seeding it)"),
        sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
            .bind(&key)
            .execute(&mut *conn),
    )
    .await??;
    let seeded = seed_locked(&endpoint, &admin, family, &name, limit, seed).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&key)
        .execute(&mut *conn)
        .await;
    drop(conn);
    admin.close().await;
    seeded?;
    unlocked?;
    Ok(name)
}

/// The part of [`ensure_template`] that runs under its lock.
async fn seed_locked<F, Fut>(
    endpoint: &Endpoint,
    admin: &PgPool,
    family: &str,
    name: &str,
    limit: Duration,
    seed: F,
) -> anyhow::Result<()>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    if template_exists(admin, name).await? {
        return Ok(()); // seeded by whoever held the lock before us
    }
    // What a killed seeder left behind is dropped and seeded again.
    let building = format!("{name}_seeding");
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
        )))
        .await?;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {building}")))
        .await
        .with_context(|| format!("creating {building} on {}", endpoint.describe()))?;
    let url = crate::sqldb::database_url(&endpoint.url, &building)?;
    let pool = connect(endpoint, &url, 4).await?;
    let seeded = crate::within(
        limit,
        format!("seeding template {name}"),
        seed(pool.clone()),
    )
    .await;
    // Closing waits for the pool's connections to end: a rename (and later a
    // copy) needs the database to have no sessions.
    pool.close().await;
    seeded?.with_context(|| format!("seeding template {name}"))?;
    admin
        .execute(AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {name}"
        )))
        .await?;
    let older: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
    )
    .bind(format!("{}\\_%", family.replace('_', "\\_")))
    .bind(name)
    .fetch_all(admin)
    .await?;
    for old in older {
        // In use by a run of an older checkout: leave it for later.
        let _ = admin
            .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {old}")))
            .await;
    }
    Ok(())
}

async fn template_exists(admin: &PgPool, name: &str) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(admin)
            .await?,
    )
}

/// Template names are formatted into SQL: lower-case letters, digits and `_`
/// only, and short enough for `_seeding` to fit Postgres's 63 bytes.
fn check_identifier(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    anyhow::ensure!(
        ok,
        "template name {name:?}: use at most 50 of [a-z0-9_] (it is formatted into SQL)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only names that are safe to format into SQL are taken as templates.
    #[test]
    fn template_names_are_checked_before_they_reach_sql() {
        assert!(check_identifier("slow_query_seed_0a1b").is_ok());
        for bad in ["", "Seed", "seed; DROP DATABASE x", "a-b", &"x".repeat(51)] {
            assert!(check_identifier(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
