//! Step 5 — contract: drop the trigger and the old column and rename, under
//! `lock_timeout` with retries, and only once reads have switched.

use std::time::Duration;

use column_migration::schema::seed_profile;
use column_migration::workload::{Read, read_profile};
use column_migration::{CONSTRAINT, Migration, MigrationError, Phase};

use crate::support::{Lab, assert_writers_never_waited, long_transaction};

async fn through_switch(lab: &Lab, migration: &Migration) -> anyhow::Result<()> {
    lab.through_backfill(migration).await?;
    let validation = migration.validate().await?;
    assert!(validation.is_clean(), "{validation:?}");
    migration.switch_reads().await?;
    Ok(())
}

/// The end state: `profile` is the JSONB column with the converted values,
/// the constraint is validated, and no trigger or function is left behind.
#[tokio::test]
async fn step5_contract_leaves_one_jsonb_profile_column_and_nothing_else() -> anyhow::Result<()> {
    let lab = Lab::seeded(1_000, 100).await?;
    let migration = lab.migration();
    through_switch(&lab, &migration).await?;
    migration.contract().await?;
    assert_eq!(migration.phase().await?, Phase::Contracted);
    assert_eq!(
        lab.column("profile").await?,
        Some(("jsonb".into(), "YES".into())),
        "README step 5: profile is now the JSONB column"
    );
    assert_eq!(
        lab.column("profile_jsonb").await?,
        None,
        "README step 5: renamed, not copied"
    );
    assert_eq!(
        lab.scalar_i64(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customers'::regclass AND NOT tgisinternal"
        )
        .await?,
        0,
        "README step 5: the dual-write trigger is dropped"
    );
    assert_eq!(
        lab.scalar_i64(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'"
        )
        .await?,
        0,
        "README step 5: the migration's functions are dropped"
    );
    let validated: Option<bool> =
        sqlx::query_scalar("SELECT convalidated FROM pg_constraint WHERE conname = $1")
            .bind(CONSTRAINT)
            .fetch_optional(lab.pool())
            .await?;
    assert_eq!(validated, Some(true), "the constraint survives the rename");
    assert_eq!(
        read_profile(lab.pool(), 42).await?,
        Read::New(Some(seed_profile(42)))
    );
    assert_eq!(
        read_profile(lab.pool(), 100).await?,
        Read::New(None),
        "quarantined: NULL"
    );
    assert_eq!(
        migration.contract().await?.attempts,
        0,
        "a second contract has nothing to do"
    );
    Ok(())
}

/// The old column's drop, the rename and the recorded phase commit in one
/// transaction: the catalog rows the contract changes and the phase row carry
/// one transaction id (`xmin`). In two transactions, statements in between
/// would find no `profile` column, and a crash in between would leave a
/// contract that cannot be run again.
#[tokio::test]
async fn step5_the_drop_the_rename_and_the_phase_commit_in_one_transaction() -> anyhow::Result<()> {
    let lab = Lab::seeded(100, 0).await?;
    let migration = lab.migration();
    through_switch(&lab, &migration).await?;
    migration.contract().await?;
    let transactions: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT x FROM (
             SELECT xmin::text AS x FROM pg_attribute
             WHERE attrelid = 'customers'::regclass AND (attisdropped OR attname = 'profile')
             UNION ALL
             SELECT xmin::text FROM migration_progress
         ) AS changed",
    )
    .fetch_all(lab.pool())
    .await?;
    assert_eq!(
        transactions.len(),
        1,
        "README step 5: the old column dropped, profile_jsonb renamed to profile and the phase \
         recorded must be one transaction; their rows were written by {transactions:?}"
    );
    Ok(())
}

/// After the contract, earlier steps run again change nothing: expand does
/// not add `profile_jsonb` back, and the dual-write trigger is not installed
/// again (it would set a column that no longer exists and fail every write).
#[tokio::test]
async fn step5_after_the_contract_earlier_steps_run_again_change_nothing() -> anyhow::Result<()> {
    let lab = Lab::seeded(100, 0).await?;
    let migration = lab.migration();
    through_switch(&lab, &migration).await?;
    migration.contract().await?;
    assert_eq!(
        (
            migration.expand().await?.attempts,
            migration.install_dual_write().await?.attempts
        ),
        (0, 0),
        "README: expand and install_dual_write run again once done have nothing to do"
    );
    assert_eq!(
        lab.column("profile_jsonb").await?,
        None,
        "README: expand run again after the contract must not add profile_jsonb back"
    );
    assert_eq!(
        lab.scalar_i64(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customers'::regclass AND NOT tgisinternal"
        )
        .await?,
        0,
        "README: install_dual_write run again after the contract must not install the trigger"
    );
    sqlx::query(r#"UPDATE customers SET profile = '{"plan": "after the contract"}' WHERE id = 1"#)
        .execute(lab.pool())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "README step 5: after the contract the application writes profile as \
                 JSONB, and must still be able to: {e}"
            )
        })?;
    assert_eq!(migration.phase().await?, Phase::Contracted);
    Ok(())
}

/// Dropping the old column before reads have switched would break the
/// application: contract refuses, and nothing is dropped.
#[tokio::test]
async fn step5_contract_refuses_before_reads_have_switched() -> anyhow::Result<()> {
    let lab = Lab::seeded(100, 0).await?;
    let migration = lab.migration();
    lab.through_backfill(&migration).await?;
    migration.validate().await?;
    match migration.contract().await {
        Err(MigrationError::WrongPhase { needs, .. }) => assert_eq!(needs, Phase::Switched),
        other => panic!("README step 5: contract before the switch must be refused, got {other:?}"),
    }
    assert!(lab.column("profile_jsonb").await?.is_some());
    assert_eq!(
        lab.column("profile").await?.map(|c| c.0),
        Some("character varying".to_string())
    );
    Ok(())
}

/// With a long transaction holding the table, contract backs off and retries
/// instead of queueing — writers never wait behind it — and finishes once the
/// transaction ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_contract_backs_off_behind_a_long_transaction_and_writers_never_wait()
-> anyhow::Result<()> {
    let lab = Lab::seeded(1_000, 0).await?;
    let migration = lab.migration();
    through_switch(&lab, &migration).await?;
    let workload = lab.writers(2, 900).await?;
    let holder = long_transaction(lab.url(), 1_000, Duration::from_millis(2_500)).await?;
    let report = migration.contract().await?;
    holder.await??;
    let seen = workload.stop().await;
    assert!(
        report.attempts >= 2,
        "README step 5: contract must time out and retry behind the long transaction; it \
         reported {} attempt(s)",
        report.attempts
    );
    assert_writers_never_waited(&seen, "step 5");
    assert_eq!(
        lab.column("profile").await?.map(|c| c.0),
        Some("jsonb".to_string())
    );
    Ok(())
}
