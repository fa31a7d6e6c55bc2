//! Step 3 — backfill: keyset batches, each its own short transaction with its
//! checkpoint; resumable after a crash without redoing or skipping a batch;
//! never overwriting what the trigger wrote meanwhile.

use std::time::Duration;

use column_migration::schema::{seed_profile, seeded_invalid};
use column_migration::{Checkpoint, Migration, MigrationError, Phase, Progress};
use labkit::FaultProxy;
use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgPoolOptions;

use crate::support::{Lab, fast_config};

/// Every valid row gets exactly its JSON; every invalid one stays NULL and is
/// quarantined.
#[tokio::test]
async fn step3_every_row_gets_its_json_and_bad_rows_are_quarantined() -> anyhow::Result<()> {
    let lab = Lab::seeded(3_000, 50).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;
    let report = migration.backfill(&mut |_| {}).await?;
    assert_eq!(
        report.rows_done, 3_000,
        "README step 3: every row is covered: {report:?}"
    );
    assert_eq!(migration.phase().await?, Phase::Backfilled);

    let rows: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, profile_jsonb::text FROM customers ORDER BY id")
            .fetch_all(lab.pool())
            .await?;
    for (id, json) in rows {
        let json: Option<serde_json::Value> = json.map(|t| serde_json::from_str(&t)).transpose()?;
        let expected = (!seeded_invalid(id, 50)).then(|| seed_profile(id));
        assert_eq!(json, expected, "README step 3: row {id} after the backfill");
    }
    let quarantined: Vec<i64> = migration
        .quarantined()
        .await?
        .into_iter()
        .map(|q| q.customer_id)
        .collect();
    let expected: Vec<i64> = (1..=3_000).filter(|id| seeded_invalid(*id, 50)).collect();
    assert_eq!(
        quarantined, expected,
        "README step 3: invalid rows are quarantined"
    );
    Ok(())
}

/// Each batch commits on its own: the rows carry one transaction id (`xmin`)
/// per batch, never more than `batch_size` rows each. One big UPDATE would
/// show a single transaction holding every row lock until the end.
#[tokio::test]
async fn step3_each_batch_is_its_own_short_transaction() -> anyhow::Result<()> {
    let lab = Lab::seeded(5_000, 0).await?;
    let migration = lab.migration(); // batch_size 500
    migration.expand().await?;
    migration.install_dual_write().await?;
    let report = migration.backfill(&mut |_| {}).await?;
    let sizes: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM customers GROUP BY xmin::text ORDER BY 1 DESC")
            .fetch_all(lab.pool())
            .await?;
    assert!(
        sizes.len() >= 10 && sizes[0] <= 500,
        "README step 3: 5000 rows in batches of 500 must be written by at least 10 \
         transactions of at most 500 rows; saw {} transaction(s), the largest {} rows",
        sizes.len(),
        sizes.first().copied().unwrap_or(0)
    );
    assert_eq!(report.batches, 10, "{report:?}");
    Ok(())
}

/// Progress is reported after every committed batch: rows done of total, and
/// the id the backfill would resume after.
#[tokio::test]
async fn step3_progress_is_reported_after_every_batch() -> anyhow::Result<()> {
    let lab = Lab::seeded(2_500, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;
    let mut seen = Vec::new();
    migration.backfill(&mut |p| seen.push(p)).await?;
    let expected: Vec<Progress> = (1..=5)
        .map(|n| Progress {
            rows_done: n * 500,
            rows_total: 2_500,
            last_id: n * 500,
        })
        .collect();
    assert_eq!(
        seen, expected,
        "README step 3: one progress report per batch"
    );
    assert_eq!(
        migration.checkpoint().await?,
        Some(Checkpoint {
            last_id: 2_500,
            rows_done: 2_500
        })
    );
    Ok(())
}

/// The backfill is killed in the middle of a batch (its connection is cut
/// while it waits for a row lock). The checkpoint says exactly what was
/// committed; the next run starts there, does only the batches left, and
/// every row ends up converted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_killed_backfill_resumes_from_its_checkpoint_without_redoing_or_skipping()
-> anyhow::Result<()> {
    let lab = Lab::seeded(5_000, 0).await?;
    let setup = lab.migration();
    setup.expand().await?;
    setup.install_dual_write().await?;

    // Hold row 2001, the first row of the fifth batch.
    let mut blocker = sqlx::PgConnection::connect(lab.url()).await?;
    let mut held = blocker.begin().await?;
    sqlx::query("SELECT 1 FROM customers WHERE id = 2001 FOR UPDATE")
        .execute(&mut *held)
        .await?;

    let proxy = FaultProxy::for_url(lab.url()).await?;
    let proxied = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(proxy.url())
        .await?;
    let doomed = Migration::new(proxied, fast_config());
    let run = tokio::spawn(async move { doomed.backfill(&mut |_| {}).await });
    labkit::eventually(
        Duration::from_secs(10),
        "the backfill to block on row 2001",
        || async {
            let done = setup.checkpoint().await?.map_or(0, |c| c.last_id);
            Ok(done >= 2_000 && lab.lock_waiters().await? > 0)
        },
    )
    .await?;
    proxy.cut(); // the crash: the backfill's connection is gone mid-batch
    let crashed =
        labkit::within(Duration::from_secs(10), "the cut-off backfill to fail", run).await??;
    assert!(
        crashed.is_err(),
        "a backfill whose database vanished must fail, got {crashed:?}"
    );
    held.rollback().await?;

    assert_eq!(
        setup.checkpoint().await?,
        Some(Checkpoint {
            last_id: 2_000,
            rows_done: 2_000
        }),
        "README step 3: the checkpoint must cover exactly the committed batches (it moves in \
         the same transaction as its rows)"
    );
    let resumed = lab.migration();
    let report = labkit::within(
        Duration::from_secs(20),
        "the resumed backfill",
        resumed.backfill(&mut |_| {}),
    )
    .await??;
    assert_eq!(
        (report.resumed_from, report.batches, report.rows_done),
        (2_000, 6, 5_000),
        "README step 3: resume after id 2000 and do only the 6 batches left: {report:?}"
    );
    assert_eq!(
        lab.scalar_i64("SELECT count(*) FROM customers WHERE profile_jsonb IS NULL")
            .await?,
        0,
        "README step 3: no row may be skipped across the crash"
    );
    Ok(())
}

/// The application changes a row while the backfill is about to convert it.
/// The trigger already wrote the newer JSON; the backfill must not replace it
/// with a conversion of the older text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_value_written_by_the_trigger_during_the_backfill_is_never_overwritten()
-> anyhow::Result<()> {
    let lab = Lab::seeded(1_000, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;

    let mut app = sqlx::PgConnection::connect(lab.url()).await?;
    let mut write = app.begin().await?;
    sqlx::query(r#"UPDATE customers SET profile = '{"plan": "newer"}' WHERE id = 300"#)
        .execute(&mut *write)
        .await?;
    let backfill = lab.migration();
    let run = tokio::spawn(async move { backfill.backfill(&mut |_| {}).await });
    lab.until_someone_waits_for_a_lock().await?;
    write.commit().await?;
    labkit::within(Duration::from_secs(20), "the backfill", run).await???;

    assert_eq!(
        lab.json_of(300).await?,
        Some(json!({"plan": "newer"})),
        "README step 3: the backfill overwrote a newer value written by the trigger (convert \
         the row's current text, under its lock, and only rows still without JSON)"
    );
    assert_eq!(lab.json_of(299).await?, Some(seed_profile(299)));
    Ok(())
}

/// Without the dual-write trigger, rows written during the backfill would be
/// missed: the backfill refuses to start.
#[tokio::test]
async fn step3_the_backfill_refuses_to_run_without_the_trigger() -> anyhow::Result<()> {
    let lab = Lab::seeded(100, 0).await?;
    let migration = lab.migration();
    migration.expand().await?;
    match migration.backfill(&mut |_| {}).await {
        Err(MigrationError::WrongPhase { needs, .. }) => assert_eq!(needs, Phase::DualWriting),
        other => panic!("README step 3: expected WrongPhase without the trigger, got {other:?}"),
    }
    assert_eq!(
        lab.scalar_i64("SELECT count(*) FROM customers WHERE profile_jsonb IS NOT NULL")
            .await?,
        0
    );
    Ok(())
}
