//! Step 3 — backfill: keyset batches, each its own short transaction with its
//! checkpoint; resumable after a crash without redoing or skipping a batch;
//! never overwriting what the trigger wrote meanwhile.

use std::time::Duration;

use column_migration::schema::{seed_profile, seeded_invalid};
use column_migration::{Checkpoint, Config, Migration, MigrationError, Phase, Progress};
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

/// Progress is reported after every committed batch, the last and shorter one
/// included: rows done of total — every row a batch covered, whether it
/// converted it or the trigger already had — and the id the backfill would
/// resume after.
#[tokio::test]
async fn step3_progress_is_reported_after_every_batch() -> anyhow::Result<()> {
    let lab = Lab::seeded(2_600, 0).await?;
    let migration = lab.migration(); // batch_size 500
    migration.expand().await?;
    migration.install_dual_write().await?;
    // The application rewrites rows 1–10 first: the trigger converts them, so
    // the first batch has only 490 rows left to change, but covers 500.
    sqlx::query("UPDATE customers SET profile = profile WHERE id <= 10")
        .execute(lab.pool())
        .await?;
    let mut seen = Vec::new();
    let report = migration.backfill(&mut |p| seen.push(p)).await?;
    let expected: Vec<Progress> = [500, 1_000, 1_500, 2_000, 2_500, 2_600]
        .into_iter()
        .map(|n| Progress {
            rows_done: n,
            rows_total: 2_600,
            last_id: n,
        })
        .collect();
    assert_eq!(
        seen, expected,
        "README step 3: one progress report per batch, the last (100 rows) included; rows_done \
         counts the rows each batch covered, not only those it changed"
    );
    assert_eq!(
        (report.batches, report.rows_done, report.rows_updated),
        (6, 2_600, 2_590),
        "README step 3: 6 batches covered 2,600 rows and changed 2,590 (the trigger had \
         converted 10): {report:?}"
    );
    assert_eq!(
        migration.checkpoint().await?,
        Some(Checkpoint {
            last_id: 2_600,
            rows_done: 2_600
        }),
        "README step 3: the checkpoint counts every row covered, like the progress reports"
    );
    Ok(())
}

/// The backfill is killed in the middle of a batch (its connection is cut
/// while it waits for a row lock). The checkpoint says exactly what was
/// committed; the next run starts there, does only the batches left, and
/// every row ends up converted — even though the application deleted a row
/// below the checkpoint meanwhile (the keyset `id > last_id` does not move;
/// an OFFSET would, and skip a row).
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
    // While the backfill is down, the application deletes a customer the
    // backfill had already done.
    sqlx::query("DELETE FROM customers WHERE id = 10")
        .execute(lab.pool())
        .await?;
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
        "README step 3: no row may be skipped across the crash (page by id > last_id, never \
         OFFSET: with row 10 deleted, OFFSET 2000 starts at row 2002)"
    );
    Ok(())
}

/// The application changes rows while the backfill is about to convert them.
/// The trigger already wrote the newer JSON — or, for newer text that is not
/// JSON, NULL and a quarantine entry; the backfill must not replace either
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
    sqlx::query("UPDATE customers SET profile = '{broken' WHERE id = 301")
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
    assert_eq!(
        lab.json_of(301).await?,
        None,
        "README step 3: row 301's newer text is not JSON, yet the backfill gave it JSON: it \
         converted the text it had selected, not the row's current text"
    );
    let quarantined: Vec<i64> = migration
        .quarantined()
        .await?
        .into_iter()
        .map(|q| q.customer_id)
        .collect();
    assert_eq!(
        quarantined,
        vec![301],
        "README step 3: row 301's newer, invalid text stays quarantined"
    );
    assert_eq!(lab.json_of(299).await?, Some(seed_profile(299)));
    Ok(())
}

/// A whole batch with nothing to convert — NULL profiles, rows the trigger
/// already converted — is not the end of the table: the backfill goes on
/// until a batch finds no rows at all.
#[tokio::test]
async fn step3_a_batch_with_nothing_to_convert_does_not_end_the_backfill() -> anyhow::Result<()> {
    let lab = Lab::seeded(1_500, 0).await?;
    // Rows 501–750 have no profile.
    sqlx::query("UPDATE customers SET profile = NULL WHERE id BETWEEN 501 AND 750")
        .execute(lab.pool())
        .await?;
    let migration = lab.migration(); // batch_size 500
    migration.expand().await?;
    migration.install_dual_write().await?;
    // Rows 751–1000 are rewritten by the application: the trigger converts them.
    sqlx::query("UPDATE customers SET profile = profile WHERE id BETWEEN 751 AND 1000")
        .execute(lab.pool())
        .await?;
    let report = migration.backfill(&mut |_| {}).await?;
    assert_eq!(
        lab.scalar_i64(
            "SELECT count(*) FROM customers WHERE profile IS NOT NULL AND profile_jsonb IS NULL"
        )
        .await?,
        0,
        "README step 3: every row with text gets its JSON; the second batch (ids 501-1000) \
         had nothing to convert, and the backfill must not stop there"
    );
    assert_eq!(
        (report.batches, report.rows_updated, report.rows_done),
        (3, 1_000, 1_500),
        "README step 3: three batches, the middle one changing no row: {report:?}"
    );
    assert_eq!(migration.phase().await?, Phase::Backfilled);
    Ok(())
}

/// A batch that does not finish within `statement_timeout` (here it waits for
/// a row an application transaction holds) fails the backfill with `Timeout`
/// instead of hanging it, and commits nothing: no checkpoint, no row.
#[tokio::test]
async fn step3_a_batch_that_does_not_finish_within_statement_timeout_fails_the_backfill()
-> anyhow::Result<()> {
    let lab = Lab::seeded(1_000, 0).await?;
    let setup = lab.migration();
    setup.expand().await?;
    setup.install_dual_write().await?;

    let mut app = sqlx::PgConnection::connect(lab.url()).await?;
    let mut held = app.begin().await?;
    sqlx::query("SELECT 1 FROM customers WHERE id = 1 FOR UPDATE")
        .execute(&mut *held)
        .await?;

    // A pool of its own: the abandoned batch keeps its connection busy until
    // row 1 is released.
    let impatient = Migration::new(
        lab.db.new_pool(2).await?,
        Config {
            statement_timeout: Duration::from_secs(1),
            ..fast_config()
        },
    );
    let outcome = labkit::within(
        Duration::from_secs(10),
        "the backfill to give up on a batch stuck for longer than statement_timeout (1 s)",
        impatient.backfill(&mut |_| {}),
    )
    .await?;
    match outcome {
        Err(MigrationError::Timeout { limit, .. }) => assert_eq!(limit, Duration::from_secs(1)),
        other => panic!(
            "README step 3: a batch that does not finish within statement_timeout must fail \
             the backfill with Timeout, got {other:?}"
        ),
    }
    assert_eq!(
        setup.checkpoint().await?,
        None,
        "README step 3: the batch in flight never commits, nor does its checkpoint"
    );
    assert_eq!(
        lab.scalar_i64("SELECT count(*) FROM customers WHERE profile_jsonb IS NOT NULL")
            .await?,
        0,
        "README step 3: the batch in flight never commits"
    );
    assert_eq!(setup.phase().await?, Phase::DualWriting);
    held.rollback().await?;
    Ok(())
}

/// The throttle pauses *between* batches: each batch commits — its checkpoint
/// visible, its row locks released — before the pause, so no writer ever
/// waits out a throttle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_the_throttle_pause_comes_after_a_batch_commits() -> anyhow::Result<()> {
    let lab = Lab::seeded(1_000, 0).await?;
    let setup = lab.migration();
    setup.expand().await?;
    setup.install_dual_write().await?;
    let throttled = lab.migration_with(Config {
        throttle: Duration::from_secs(30),
        ..fast_config()
    });
    let run = tokio::spawn(async move { throttled.backfill(&mut |_| {}).await });
    // The first batch takes milliseconds; paused before its commit, it would
    // stay invisible for the whole 30 s throttle.
    labkit::eventually(
        Duration::from_secs(10),
        "the first batch to commit its checkpoint before the 30 s throttle pause",
        || async { Ok(setup.checkpoint().await?.is_some()) },
    )
    .await?;
    // During the pause a writer gets any row at once, the next batch's too.
    let mut writer = sqlx::PgConnection::connect(lab.url()).await?;
    sqlx::query("SET lock_timeout = '2s'")
        .execute(&mut writer)
        .await?;
    for id in [1_i64, 501] {
        sqlx::query(r#"UPDATE customers SET profile = '{"plan": "paused"}' WHERE id = $1"#)
            .bind(id)
            .execute(&mut writer)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "README step 3: a writer must not wait for the backfill while it pauses \
                     (row {id}): {e}"
                )
            })?;
    }
    assert!(
        !run.is_finished(),
        "README step 3: the backfill pauses `throttle` (30 s) between batches, yet it is done"
    );
    run.abort();
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
