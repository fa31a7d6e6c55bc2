//! Step 3: `SELECT *` and the list view.

use slow_query::{ListRow, Param, list_view, list_view_index, list_view_sql, schema};

use crate::support::Lab;

/// Plan parameters of the list view: customer, limit 10.
fn params(customer: i64) -> [Param; 2] {
    [Param::BigInt(customer), Param::BigInt(10)]
}

/// A fresh copy with the list view's index, vacuumed.
async fn indexed() -> anyhow::Result<Lab> {
    let lab = Lab::seeded().await?;
    lab.create_index(&list_view_index()).await?;
    lab.vacuum().await?;
    Ok(lab)
}

/// With the covering index and a current visibility map, the list view is an
/// Index Only Scan that fetches no heap page, and sorts nothing.
#[tokio::test]
async fn step3_the_list_view_is_answered_from_the_index_alone() -> anyhow::Result<()> {
    let lab = indexed().await?;
    for customer in [schema::WHALE, 777, schema::NEW_CUSTOMER] {
        let plan = lab.plan(list_view_sql(), &params(customer)).await?;
        let scans = plan.of_type("Index Only Scan");
        assert!(
            scans.len() == 1 && scans[0]["Index Name"].as_str() == Some(list_view_index().name),
            "README step 3: customer {customer}: expected an Index Only Scan on {}, got {}; \
             every column the list view selects must be in the index (key or INCLUDE)",
            list_view_index().name,
            plan.describe()
        );
        assert!(
            !plan.sorts(),
            "README step 3: customer {customer}: {}",
            plan.describe()
        );
        assert_eq!(
            plan.heap_fetches(),
            0,
            "README step 3: customer {customer}: heap fetches after VACUUM: {}",
            plan.describe()
        );
    }
    Ok(())
}

/// The same ten orders cost fewer pages as the list view's five columns than
/// as `SELECT *`, which must visit the heap for every row.
#[tokio::test]
async fn step3_the_list_view_touches_fewer_pages_than_select_star() -> anyhow::Result<()> {
    let lab = indexed().await?;
    for customer in [schema::WHALE, 777] {
        let list = lab.plan(list_view_sql(), &params(customer)).await?;
        let star = lab
            .plan(schema::LATEST_ORDERS_SQL, &[Param::BigInt(customer)])
            .await?;
        assert!(
            list.blocks() < star.blocks(),
            "README step 3: customer {customer}: the list view touched {} pages, SELECT * {}; \
             list: {}; star: {}",
            list.blocks(),
            star.blocks(),
            list.describe(),
            star.describe()
        );
    }
    Ok(())
}

/// A write clears its page's all-visible bit: the list view fetches that row
/// from the heap until the next VACUUM, then reads the index alone again.
#[tokio::test]
async fn step3_a_write_costs_heap_fetches_until_the_next_vacuum() -> anyhow::Result<()> {
    let lab = indexed().await?;
    lab.insert_orders(777, 1, 1_900_000_000_000_000).await?;
    let after_write = lab.plan(list_view_sql(), &params(777)).await?;
    assert!(
        !after_write.of_type("Index Only Scan").is_empty() && after_write.heap_fetches() >= 1,
        "README step 3: the new row's page is not all-visible yet: expected an Index Only \
         Scan with heap fetches, got {} with {}",
        after_write.describe(),
        after_write.heap_fetches()
    );
    lab.vacuum().await?;
    let after_vacuum = lab.plan(list_view_sql(), &params(777)).await?;
    assert_eq!(
        after_vacuum.heap_fetches(),
        0,
        "{}",
        after_vacuum.describe()
    );
    Ok(())
}

/// The list view returns the customer's latest orders, newest first, ties in
/// `created_at` newest id first, exactly `limit` of them when there are more;
/// with its index and without (the order is the query's, not the index's).
#[tokio::test]
async fn step3_the_list_view_returns_the_latest_orders_newest_first() -> anyhow::Result<()> {
    for with_index in [true, false] {
        let lab = if with_index {
            indexed().await?
        } else {
            Lab::seeded().await?
        };
        let customer = 8_000_001;
        let older = lab
            .insert_orders(customer, 3, 1_800_000_000_250_000)
            .await?;
        let tied = lab
            .insert_orders(customer, 4, 1_800_000_000_250_001)
            .await?;
        let expected: Vec<i64> = tied
            .iter()
            .rev()
            .chain(older.iter().rev())
            .copied()
            .collect();
        let how = if with_index {
            "with the list index"
        } else {
            "without an index"
        };
        for limit in [1, 6, 7, 8] {
            let rows: Vec<ListRow> = list_view(lab.pool(), customer, limit).await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let want: Vec<i64> = expected.iter().take(limit as usize).copied().collect();
            assert_eq!(
                ids, want,
                "README step 3: {how}, limit {limit}: newest first, ties newest id first \
                 (ORDER BY created_at DESC, id DESC)"
            );
        }
        let first = &list_view(lab.pool(), customer, 1).await?[0];
        assert_eq!(
            (
                first.created_at_us,
                first.status.as_str(),
                first.currency.as_str(),
                first.total_cents
            ),
            (1_800_000_000_250_001, "placed", "EUR", 1004),
            "README step 3: the row's columns as stored, created_at to the microsecond"
        );
        assert!(
            list_view(lab.pool(), schema::NEW_CUSTOMER, 10)
                .await?
                .is_empty()
        );
    }
    Ok(())
}
