//! A seeded database per test, a fast migration config, and the long
//! transactions the tests use to get in the migration's way.

use std::time::Duration;

use column_migration::workload::{Workload, WorkloadReport};
use column_migration::{Config, Migration, schema};
use labkit::TestDb;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::oneshot;

/// The bound on any workload statement's lock wait (README step 6). The
/// migration's own `lock_timeout` in these tests is 50 ms; the rest is
/// headroom for a busy two-core machine.
pub const LOCK_WAIT_BOUND: Duration = Duration::from_millis(500);

/// A test's own database, with `customers` seeded.
pub struct Lab {
    pub db: TestDb,
}

impl Lab {
    /// `pg_constraint.convalidated` of [`column_migration::CONSTRAINT`], if
    /// the constraint exists.
    pub async fn constraint_validated(&self) -> anyhow::Result<Option<bool>> {
        Ok(
            sqlx::query_scalar("SELECT convalidated FROM pg_constraint WHERE conname = $1")
                .bind(column_migration::CONSTRAINT)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// `rows` customers; every `invalid_every`-th has text that is not JSON
    /// (0: none).
    pub async fn seeded(rows: i64, invalid_every: i64) -> anyhow::Result<Lab> {
        labkit::init_tracing();
        let db = TestDb::new().await?;
        schema::create(db.pool()).await?;
        schema::seed(db.pool(), rows, invalid_every).await?;
        Ok(Lab { db })
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    pub fn url(&self) -> &str {
        self.db.url()
    }

    /// A migration on this database with [`fast_config`].
    pub fn migration(&self) -> Migration {
        Migration::new(self.pool().clone(), fast_config())
    }

    pub fn migration_with(&self, config: Config) -> Migration {
        Migration::new(self.pool().clone(), config)
    }

    pub async fn scalar_i64(&self, sql: &'static str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(sql).fetch_one(self.pool()).await?)
    }

    /// `(data_type, is_nullable)` of `customers.<column>`, if it exists.
    pub async fn column(&self, column: &str) -> anyhow::Result<Option<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT data_type, is_nullable FROM information_schema.columns
             WHERE table_name = 'customers' AND column_name = $1",
        )
        .bind(column)
        .fetch_optional(self.pool())
        .await?)
    }

    /// `profile_jsonb` of row `id`, as JSON.
    pub async fn json_of(&self, id: i64) -> anyhow::Result<Option<serde_json::Value>> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT profile_jsonb::text FROM customers WHERE id = $1")
                .bind(id)
                .fetch_one(self.pool())
                .await?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    /// Run expand, dual write and backfill, as the earlier steps define them.
    pub async fn through_backfill(&self, migration: &Migration) -> anyhow::Result<()> {
        migration.expand().await?;
        migration.install_dual_write().await?;
        migration.backfill(&mut |_| {}).await?;
        Ok(())
    }

    /// Start a workload of `writers` writers on rows `1..=max_id` (no readers).
    pub async fn writers(&self, writers: usize, max_id: i64) -> anyhow::Result<Workload> {
        Ok(Workload::start(self.url(), max_id, writers, 0, Duration::from_millis(5)).await?)
    }

    /// Number of backends in this database waiting for a lock right now.
    pub async fn lock_waiters(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// Wait (bounded) until some backend of this database waits for a lock.
    pub async fn until_someone_waits_for_a_lock(&self) -> anyhow::Result<()> {
        labkit::eventually(
            Duration::from_secs(10),
            "a backend waiting for a lock held by the test",
            || async { Ok(self.lock_waiters().await? > 0) },
        )
        .await
    }
}

/// Small lock timeouts and backoff, so retries happen many times per second.
pub fn fast_config() -> Config {
    Config {
        batch_size: 500,
        throttle: Duration::ZERO,
        lock_timeout: Duration::from_millis(50),
        ddl_attempts: 400,
        retry_backoff: Duration::from_millis(10),
        statement_timeout: Duration::from_secs(20),
    }
}

/// A long transaction that has updated row `id` (so it holds ROW EXCLUSIVE on
/// `customers`, which conflicts with every DDL of the migration) and keeps it
/// open for `hold`. Returns once the lock is held; the task commits after `hold`.
pub async fn long_transaction(
    url: &str,
    id: i64,
    hold: Duration,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let mut conn = labkit::within(
        Duration::from_secs(5),
        "connect to Postgres",
        PgConnection::connect(url),
    )
    .await??;
    let (held_tx, held_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tx = conn.begin().await?;
        sqlx::query("UPDATE customers SET email = email WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let _ = held_tx.send(());
        tokio::time::sleep(hold).await;
        tx.commit().await?;
        Ok(())
    });
    labkit::within(
        Duration::from_secs(5),
        "the long transaction to take its lock",
        held_rx,
    )
    .await??;
    Ok(task)
}

/// The checks every "writers never wait" test makes on a workload's report.
pub fn assert_writers_never_waited(report: &WorkloadReport, step: &str) {
    assert!(
        report.write_errors.is_empty(),
        "README {step}: writers failed while the migration ran (a DDL queued behind a long \
         transaction blocks every writer after it; set lock_timeout and retry): {:?}",
        &report.write_errors[..report.write_errors.len().min(3)]
    );
    assert!(
        report.max_lock_wait < LOCK_WAIT_BOUND,
        "README {step}: a writer waited {:?} for a lock (bound {LOCK_WAIT_BOUND:?}); the \
         migration's DDL must not wait in the lock queue longer than its lock_timeout",
        report.max_lock_wait
    );
    assert!(report.writes > 0, "the workload wrote nothing");
}
