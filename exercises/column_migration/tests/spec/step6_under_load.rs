//! Step 6 — the whole migration with writers and readers running throughout,
//! and a long transaction in the way of the contract.
//!
//! Size: 200,000 rows by default (CI); `LAB_SCALE=10` runs 2 million.

use std::time::Duration;

use column_migration::workload::Workload;
use column_migration::{Config, Phase};

use crate::support::{LOCK_WAIT_BOUND, Lab, fast_config, long_transaction};

const INVALID_EVERY: i64 = 97;

fn rows() -> i64 {
    let scale: i64 = std::env::var("LAB_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    200_000 * scale.max(1)
}

/// Expand, dual write, backfill, validate, switch and contract while two
/// writers and two readers run. Asserts zero writer and reader errors, no lock
/// wait above the bound (sampled from `pg_locks`), no lost update (every row's
/// final JSON is the last value acknowledged to a writer, or its seeded value),
/// and the end state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_the_whole_migration_under_load_loses_nothing_and_never_stalls_writers()
-> anyhow::Result<()> {
    let rows = rows();
    let lab = Lab::seeded(rows, INVALID_EVERY).await?;
    let last_id = rows - 1; // the long transaction below holds the last row
    let migration = lab.migration_with(Config {
        batch_size: 2_000,
        ..fast_config()
    });
    let workload = Workload::start(lab.url(), last_id, 2, 2, Duration::from_millis(2)).await?;

    migration.expand().await?;
    migration.install_dual_write().await?;
    migration.backfill(&mut |_| {}).await?;
    let validation = migration.validate().await?;
    assert!(
        validation.is_clean(),
        "README step 6: with the workload running, validation must still find both columns \
         agreeing: {validation:?}"
    );
    migration.switch_reads().await?;
    let holder = long_transaction(lab.url(), rows, Duration::from_millis(1_500)).await?;
    let contract = migration.contract().await?;
    holder.await??;
    let seen = workload.stop().await;

    assert!(
        seen.writes > 100 && seen.reads > 100,
        "the workload barely ran: {} writes, {} reads",
        seen.writes,
        seen.reads
    );
    assert!(
        seen.write_errors.is_empty() && seen.read_errors.is_empty(),
        "README step 6: zero errors for the application; writes: {:?}; reads: {:?}",
        &seen.write_errors[..seen.write_errors.len().min(3)],
        &seen.read_errors[..seen.read_errors.len().min(3)]
    );
    assert!(
        seen.max_lock_wait < LOCK_WAIT_BOUND,
        "README step 6: a workload statement waited {:?} for a lock (bound {LOCK_WAIT_BOUND:?})",
        seen.max_lock_wait
    );
    assert!(
        contract.attempts >= 2,
        "the contract met the long transaction and retried"
    );
    assert_eq!(migration.phase().await?, Phase::Contracted);

    // No lost update: compare every row in one statement.
    let (ids, values): (Vec<i64>, Vec<String>) = seen
        .last_written
        .iter()
        .map(|(id, value)| (*id, value.to_string()))
        .unzip();
    let lost: Vec<i64> = sqlx::query_scalar(
        "WITH written AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS w(id, value)),
              expected AS (
                  SELECT c.id, c.profile,
                         CASE WHEN w.id IS NOT NULL THEN w.value::jsonb
                              WHEN c.id % $3 = 0 THEN NULL
                              ELSE jsonb_build_object('id', c.id,
                                       'plan', (ARRAY['free','pro','team'])[1 + c.id % 3],
                                       'tags', jsonb_build_array('t' || (c.id % 7)))
                         END AS want
                  FROM customers c LEFT JOIN written w ON w.id = c.id)
         SELECT id FROM expected WHERE profile IS DISTINCT FROM want ORDER BY id LIMIT 10",
    )
    .bind(&ids)
    .bind(&values)
    .bind(INVALID_EVERY)
    .fetch_all(lab.pool())
    .await?;
    assert!(
        lost.is_empty(),
        "README step 6: rows whose final JSON is not their last acknowledged value (lost \
         updates): {lost:?}"
    );
    assert_eq!(
        lab.column("profile").await?.map(|c| c.0),
        Some("jsonb".to_string()),
        "README step 6: the end state has profile as JSONB"
    );
    assert_eq!(
        lab.scalar_i64(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customers'::regclass AND NOT tgisinternal"
        )
        .await?,
        0
    );
    Ok(())
}
