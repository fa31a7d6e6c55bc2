//! Step 1 — expand: add a nullable JSONB column, with `lock_timeout` and
//! retries, and see why the one-statement `ALTER COLUMN … TYPE` is not an
//! option.

use std::time::Duration;

use column_migration::{Config, MigrationError, Phase};
use sqlx::{Connection, PgConnection};

use crate::support::{Lab, assert_writers_never_waited, fast_config, long_transaction};

/// Expand adds `profile_jsonb jsonb` (nullable, empty), leaves `profile` as it
/// was, records the phase, and can be run again.
#[tokio::test]
async fn step1_expand_adds_a_nullable_jsonb_column_beside_profile() -> anyhow::Result<()> {
    let lab = Lab::seeded(200, 10).await?;
    let migration = lab.migration();
    let report = migration.expand().await?;
    assert_eq!(
        report.attempts, 1,
        "nothing holds the table, so one attempt"
    );
    assert_eq!(
        lab.column("profile_jsonb").await?,
        Some(("jsonb".into(), "YES".into())),
        "README step 1: a nullable jsonb column named profile_jsonb"
    );
    assert_eq!(
        lab.column("profile").await?,
        Some(("character varying".into(), "YES".into())),
        "README step 1: the old column stays, the old application still uses it"
    );
    assert_eq!(
        lab.scalar_i64("SELECT count(*) FROM customers WHERE profile_jsonb IS NOT NULL")
            .await?,
        0,
        "expand only adds the column; filling it is the backfill's job"
    );
    assert_eq!(migration.phase().await?, Phase::Expanded);
    migration.expand().await?; // a re-run after a crash must not fail
    assert_eq!(migration.phase().await?, Phase::Expanded);
    Ok(())
}

/// The demonstration: `ALTER COLUMN profile TYPE jsonb USING …` rewrites the
/// table under ACCESS EXCLUSIVE, so writers wait for the whole rewrite (here the
/// transaction is held open to make that visible); expand rewrites nothing.
#[tokio::test]
async fn step1_alter_type_rewrites_the_table_and_blocks_writers_but_expand_does_neither()
-> anyhow::Result<()> {
    let lab = Lab::seeded(2_000, 0).await?;
    sqlx::query("CREATE TABLE customers_copy AS SELECT * FROM customers")
        .execute(lab.pool())
        .await?;

    // The one-statement way, on a copy, in a transaction we keep open.
    let mut alter = PgConnection::connect(lab.url()).await?;
    let mut tx = alter.begin().await?;
    let before: i64 = sqlx::query_scalar("SELECT pg_relation_filenode('customers_copy')::int8")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("ALTER TABLE customers_copy ALTER COLUMN profile TYPE jsonb USING profile::jsonb")
        .execute(&mut *tx)
        .await?;
    let after: i64 = sqlx::query_scalar("SELECT pg_relation_filenode('customers_copy')::int8")
        .fetch_one(&mut *tx)
        .await?;
    assert_ne!(before, after, "ALTER … TYPE writes a new copy of the table");
    let mut writer = PgConnection::connect(lab.url()).await?;
    sqlx::query("SET lock_timeout = '200ms'")
        .execute(&mut writer)
        .await?;
    let blocked = sqlx::query("UPDATE customers_copy SET email = email WHERE id = 1")
        .execute(&mut writer)
        .await;
    assert!(
        blocked.is_err(),
        "a writer cannot touch the table while ALTER … TYPE holds ACCESS EXCLUSIVE"
    );
    tx.rollback().await?;

    // Expand: catalog only.
    let before: i64 = lab
        .scalar_i64("SELECT pg_relation_filenode('customers')::int8")
        .await?;
    lab.migration().expand().await?;
    let after: i64 = lab
        .scalar_i64("SELECT pg_relation_filenode('customers')::int8")
        .await?;
    assert_eq!(
        before, after,
        "README step 1: expand must not rewrite customers (a new column without a volatile \
         default, and no type change, is a catalog change)"
    );
    assert!(
        lab.column("profile_jsonb").await?.is_some(),
        "README step 1: profile_jsonb added"
    );
    sqlx::query("UPDATE customers SET email = email WHERE id = 1")
        .execute(&mut writer)
        .await?;
    Ok(())
}

/// With a long transaction in the way, expand times out, backs off and tries
/// again until it gets through — and writers never queue behind it for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_expand_waits_out_a_long_transaction_without_stalling_writers() -> anyhow::Result<()>
{
    let lab = Lab::seeded(1_000, 0).await?;
    let workload = lab.writers(2, 900).await?;
    let holder = long_transaction(lab.url(), 1_000, Duration::from_millis(2_500)).await?;
    let report = lab.migration().expand().await?;
    holder.await??;
    let seen = workload.stop().await;
    assert!(
        report.attempts >= 2,
        "README step 1: expand must hit lock_timeout while the long transaction runs, then \
         retry; it reported {} attempt(s)",
        report.attempts
    );
    assert!(lab.column("profile_jsonb").await?.is_some());
    assert_writers_never_waited(&seen, "step 1");
    Ok(())
}

/// When the lock never comes, expand gives up after exactly its attempts
/// (counted by Postgres) with an error that says what is in the way, and
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_expand_gives_up_with_a_clear_error_when_the_lock_never_comes() -> anyhow::Result<()>
{
    let lab = Lab::seeded(100, 0).await?;
    // Count the attempts Postgres sees: every ALTER TABLE fires
    // ddl_command_start before it queues for its lock, and a sequence does not
    // roll back with the attempt's transaction.
    sqlx::raw_sql(
        "CREATE SEQUENCE ddl_attempts_seen;
         CREATE FUNCTION count_ddl_attempt() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM nextval('ddl_attempts_seen');
         END $$;
         CREATE EVENT TRIGGER count_ddl_attempts ON ddl_command_start
             EXECUTE FUNCTION count_ddl_attempt();",
    )
    .execute(lab.pool())
    .await?;
    let holder = long_transaction(lab.url(), 100, Duration::from_secs(3)).await?;
    let migration = lab.migration_with(Config {
        ddl_attempts: 3,
        ..fast_config()
    });
    let outcome = labkit::within(
        Duration::from_secs(2),
        "expand with 3 attempts",
        migration.expand(),
    )
    .await?;
    match outcome {
        Err(MigrationError::LockTimeout { attempts, .. }) => assert_eq!(attempts, 3),
        other => panic!("README step 1: expected LockTimeout after 3 attempts, got {other:?}"),
    }
    assert_eq!(
        lab.scalar_i64(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ddl_attempts_seen"
        )
        .await?,
        3,
        "README step 1: ddl_attempts = 3 means three attempts at the DDL before LockTimeout, \
         no fewer and no more"
    );
    assert!(
        lab.column("profile_jsonb").await?.is_none(),
        "a failed expand leaves the table as it was"
    );
    assert_eq!(migration.phase().await?, Phase::Fresh);
    holder.await??;
    Ok(())
}
