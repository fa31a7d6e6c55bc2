//! Step 5, hidden: the year's turn.

use slow_query::{Month, create_partitioned, ensure_month};

use crate::support::Lab;

/// December's next month is January of the next year, with its own
/// partition: an order of 15 January 2027 lands there.
#[tokio::test]
async fn step5_hidden_the_month_after_december_is_next_years_january() -> anyhow::Result<()> {
    assert_eq!(Month::new(2026, 12).next(), Month::new(2027, 1));
    assert_eq!(
        Month::new(2027, 1).partition_name(),
        "orders_by_month_2027_01"
    );
    let lab = Lab::seeded().await?;
    create_partitioned(lab.pool(), Month::new(2026, 11), 2).await?;
    assert!(
        ensure_month(lab.pool(), Month::new(2026, 12).next()).await?,
        "README step 5: January 2027 had no partition yet"
    );
    let partition: String = sqlx::query_scalar(
        "INSERT INTO orders_by_month (id, customer_id, created_at, status, total_cents, currency, items, shipping_address)
         VALUES (nextval(pg_get_serial_sequence('orders', 'id')), 1, '2027-01-15 00:00:00+00', 'placed', 1, 'EUR', '[]', 'x')
         RETURNING tableoid::regclass::text",
    )
    .fetch_one(lab.pool())
    .await?;
    assert_eq!(partition, "orders_by_month_2027_01");
    Ok(())
}
