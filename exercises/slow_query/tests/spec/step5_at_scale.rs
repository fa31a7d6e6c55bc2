//! Step 5: at 200M rows — monthly partitions, a bounded copy, cached plans.

use slow_query::{
    Month, PARTITIONED, Param, copy_batch, create_partitioned, ensure_month,
    latest_partitioned_sql, schema,
};

use crate::support::Lab;

/// The seeded orders span January to March 2026.
const FIRST: Month = Month {
    year: 2026,
    month: 1,
};

/// What the whale's latest ten may touch across partitions.
const LATEST_TEN_PAGES: u64 = 30;

/// Copy everything, `batch` rows at a time, from `after`; the batches run.
async fn copy_all(lab: &Lab, mut after: i64, batch: i64) -> anyhow::Result<usize> {
    let mut batches = 0;
    while let Some(last) = copy_batch(lab.pool(), after, batch).await? {
        anyhow::ensure!(
            last > after,
            "README step 5: copy_batch went backward ({after} → {last})"
        );
        after = last;
        batches += 1;
    }
    Ok(batches)
}

async fn count(lab: &Lab, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(lab.pool()).await?)
}

/// Rows in `orders` and not in the copy, plus rows in the copy and not in
/// `orders`: 0 when the copy is exact.
async fn differences(lab: &Lab) -> anyhow::Result<i64> {
    count(
        lab,
        "SELECT (SELECT count(*) FROM (SELECT * FROM orders EXCEPT ALL SELECT * FROM orders_by_month) a)
              + (SELECT count(*) FROM (SELECT * FROM orders_by_month EXCEPT ALL SELECT * FROM orders) b)",
    )
    .await
}

/// A copied-and-analysed partitioned table, January to March.
async fn copied() -> anyhow::Result<Lab> {
    let lab = Lab::seeded().await?;
    create_partitioned(lab.pool(), FIRST, 3).await?;
    copy_all(&lab, 0, 100_000).await?;
    sqlx::query("VACUUM (ANALYZE) orders_by_month")
        .execute(lab.pool())
        .await?;
    Ok(lab)
}

/// Batches of at most `batch` rows, in id order, copy every order exactly
/// once; a batch past the last id says there is nothing left.
#[tokio::test]
async fn step5_a_bounded_copy_moves_every_order_exactly_once() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    // Rows updated since they were written sit at the end of the heap now:
    // only ORDER BY id makes "the next batch after id N" mean what it says.
    sqlx::query("UPDATE orders SET status = status WHERE id <= 5000")
        .execute(lab.pool())
        .await?;
    // And ids have gaps (orders deleted, sequences that skip): a batch is a
    // number of rows, not a range of ids.
    sqlx::query("DELETE FROM orders WHERE id BETWEEN 2001 AND 4000")
        .execute(lab.pool())
        .await?;
    create_partitioned(lab.pool(), FIRST, 3).await?;
    assert!(
        copy_batch(lab.pool(), 0, 0).await.is_err(),
        "README step 5: a batch of 0 rows copies nothing and would end the copy: refuse it"
    );
    assert_eq!(
        copy_batch(lab.pool(), 0, 1).await?,
        Some(1),
        "README step 5: batch of 1 after id 0"
    );
    assert_eq!(
        count(&lab, "SELECT count(*) FROM orders_by_month").await?,
        1
    );
    assert_eq!(copy_batch(lab.pool(), 1, 1_000).await?, Some(1_001));
    assert_eq!(
        count(&lab, "SELECT count(*) FROM orders_by_month").await?,
        1_001,
        "README step 5: each batch copies at most its size, from the id after the last"
    );
    assert_eq!(
        copy_batch(lab.pool(), 1_001, 1_000).await?,
        Some(4_001),
        "README step 5: the 1,000 rows after id 1,001 are 1,002 to 2,000 and 4,001 (2,001 to \
         4,000 are gone)"
    );
    copy_all(&lab, 4_001, 100_000).await?;
    assert_eq!(
        differences(&lab).await?,
        0,
        "README step 5: the copy differs from orders"
    );
    let max_id = count(&lab, "SELECT max(id) FROM orders").await?;
    assert_eq!(copy_batch(lab.pool(), max_id, 10).await?, None);
    Ok(())
}

/// A copy interrupted and resumed from an earlier id than it reached (the
/// last checkpoint it saved) copies nothing twice and misses nothing.
#[tokio::test]
async fn step5_an_interrupted_copy_resumes_without_duplicates_or_gaps() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    create_partitioned(lab.pool(), FIRST, 3).await?;
    let mut after = 0;
    for _ in 0..3 {
        after = copy_batch(lab.pool(), after, 20_000)
            .await?
            .unwrap_or(after);
    }
    copy_all(&lab, after - 30_000, 20_000).await?;
    assert_eq!(
        differences(&lab).await?,
        0,
        "README step 5: a resumed copy must be idempotent"
    );
    Ok(())
}

/// An order whose month has no partition fails its batch loudly and copies
/// none of it; once the month exists the copy resumes and loses nothing.
#[tokio::test]
async fn step5_an_order_without_a_partition_stops_the_copy_and_loses_nothing() -> anyhow::Result<()>
{
    let lab = Lab::seeded().await?;
    // June 2026, past the three months the copy was planned for: an order
    // moved there, in the middle of the ids (and of a batch).
    sqlx::query("UPDATE orders SET created_at = '2026-06-15 12:00:00+00' WHERE id = 275000")
        .execute(lab.pool())
        .await?;
    create_partitioned(lab.pool(), FIRST, 3).await?;
    let mut after = 0;
    let stopped = loop {
        match copy_batch(lab.pool(), after, 100_000).await {
            Ok(Some(last)) => after = last,
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(
        stopped.is_some(),
        "README step 5: a row with no partition must fail its batch"
    );
    assert_eq!(
        count(&lab, "SELECT count(*) FROM orders_by_month").await?,
        after,
        "README step 5: the failed batch must copy none of its rows (one statement)"
    );
    for month in [4, 5, 6] {
        assert!(ensure_month(lab.pool(), Month::new(2026, month)).await?);
    }
    copy_all(&lab, after, 100_000).await?;
    assert_eq!(differences(&lab).await?, 0);
    Ok(())
}

/// A partition holds its month exactly: from the first instant of its first
/// day to the last microsecond before the next month; tested on both sides.
#[tokio::test]
async fn step5_a_partition_holds_exactly_its_month() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    create_partitioned(lab.pool(), FIRST, 2).await?;
    ensure_month(lab.pool(), Month::new(2026, 12)).await?;
    let place = |at: &'static str| {
        let pool = lab.pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "INSERT INTO orders_by_month (customer_id, created_at, status, total_cents, currency, items, shipping_address)
                 VALUES (1, $1::timestamptz, 'placed', 1, 'EUR', '[]', 'x')
                 RETURNING tableoid::regclass::text",
            )
            .bind(at)
            .fetch_one(&pool)
            .await
        }
    };
    for (at, partition) in [
        ("2026-01-01 00:00:00+00", "orders_by_month_2026_01"),
        ("2026-01-31 23:59:59.999999+00", "orders_by_month_2026_01"),
        ("2026-02-01 00:00:00+00", "orders_by_month_2026_02"),
        ("2026-02-28 23:59:59.999999+00", "orders_by_month_2026_02"),
        ("2026-12-31 23:59:59.999999+00", "orders_by_month_2026_12"),
    ] {
        assert_eq!(
            place(at).await?,
            partition,
            "README step 5: an order at {at}"
        );
    }
    let ids: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT min(id) FROM orders_by_month), (SELECT max(id) FROM orders)",
    )
    .fetch_one(lab.pool())
    .await?;
    assert!(
        ids.0 > ids.1,
        "README step 5: a row written to the new table without an id takes the next id of \
         orders' own sequence, never one orders already has: {ids:?}"
    );
    for at in [
        "2025-12-31 23:59:59.999999+00",
        "2026-03-01 00:00:00+00",
        "2027-01-01 00:00:00+00",
    ] {
        assert!(
            place(at).await.is_err(),
            "README step 5: no partition should take an order at {at}"
        );
    }
    Ok(())
}

/// The index is on every partition, including one created next month, and
/// creating a month twice is harmless.
#[tokio::test]
async fn step5_every_partition_has_the_index_including_next_months() -> anyhow::Result<()> {
    let lab = Lab::seeded().await?;
    create_partitioned(lab.pool(), FIRST, 3).await?;
    let april = Month::new(2026, 4);
    assert!(
        ensure_month(lab.pool(), april).await?,
        "README step 5: April did not exist yet"
    );
    assert!(
        !ensure_month(lab.pool(), april).await?,
        "README step 5: April exists now"
    );
    // Two schedulers at once: one creates May, the others find it there.
    let may = Month::new(2026, 5);
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let pool = lab.pool().clone();
            tokio::spawn(async move { ensure_month(&pool, may).await })
        })
        .collect();
    let mut created = 0;
    for racer in racers {
        match racer.await? {
            Ok(true) => created += 1,
            Ok(false) => {}
            Err(e) => panic!("README step 5: ensure_month run six times at once failed: {e}"),
        }
    }
    assert_eq!(created, 1, "README step 5: May was created exactly once");
    let partitions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text,
                (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid AND i.indisvalid
                    AND pg_get_indexdef(i.indexrelid) LIKE '%(customer_id, created_at%')
           FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
          WHERE h.inhparent = $1::regclass ORDER BY 1",
    )
    .bind(PARTITIONED)
    .fetch_all(lab.pool())
    .await?;
    assert_eq!(
        partitions.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        [
            "orders_by_month_2026_01",
            "orders_by_month_2026_02",
            "orders_by_month_2026_03",
            "orders_by_month_2026_04",
            "orders_by_month_2026_05",
        ]
    );
    for (partition, indexes) in &partitions {
        assert!(
            *indexes >= 1,
            "README step 5: {partition} has no (customer_id, created_at …) index: declare it on \
             the partitioned table, so every partition, now or later, gets one"
        );
    }
    Ok(())
}

/// Across partitions, the latest ten still stop early: no sort, the older
/// months never executed for the whale, a few pages for anyone.
#[tokio::test]
async fn step5_the_latest_ten_stop_early_across_partitions() -> anyhow::Result<()> {
    let lab = copied().await?;
    let whale = lab
        .plan(latest_partitioned_sql(), &[Param::BigInt(schema::WHALE)])
        .await?;
    assert!(
        !whale.sorts(),
        "README step 5: the whale's plan sorts: {}",
        whale.describe()
    );
    let never: Vec<_> = whale
        .nodes()
        .into_iter()
        .filter(|n| n["Actual Loops"].as_u64() == Some(0))
        .collect();
    assert!(
        !never.is_empty(),
        "README step 5: every month was read for the whale's ten: {}",
        whale.describe()
    );
    assert!(
        whale.blocks() <= LATEST_TEN_PAGES,
        "README step 5: {}",
        whale.describe()
    );
    let new = lab
        .plan(
            latest_partitioned_sql(),
            &[Param::BigInt(schema::NEW_CUSTOMER)],
        )
        .await?;
    assert!(!new.sorts(), "{}", new.describe());
    assert!(
        new.blocks() <= 4 * 3 + 4,
        "README step 5: a new customer costs a probe of each month's index: {}",
        new.describe()
    );
    Ok(())
}

/// After five executions a prepared statement may run a generic plan, made
/// without knowing the customer: planned for a tiny customer, it must still
/// serve the whale with no sort and a few pages.
#[tokio::test]
async fn step5_a_cached_generic_plan_serves_a_whale_well() -> anyhow::Result<()> {
    let lab = copied().await?;
    let mut conn = lab.connection().await?;
    let prepare = format!("PREPARE latest(bigint) AS {}", latest_partitioned_sql());
    sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
        .execute(&mut conn)
        .await?;
    for _ in 0..6 {
        sqlx::raw_sql("EXECUTE latest(777)")
            .execute(&mut conn)
            .await?;
    }
    let json: serde_json::Value =
        sqlx::query_scalar("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE latest(1)")
            .fetch_one(&mut conn)
            .await?;
    let plan = crate::support::Plan { json };
    let generic = plan
        .nodes()
        .iter()
        .any(|n| n["Index Cond"].as_str().is_some_and(|c| c.contains("$1")));
    assert!(
        generic,
        "force_generic_plan gave a generic plan: {}",
        plan.describe()
    );
    assert!(
        !plan.sorts() && plan.blocks() <= LATEST_TEN_PAGES,
        "README step 5: the generic plan, made without knowing the customer, serves the \
         whale badly: {}",
        plan.describe()
    );
    Ok(())
}
