// PROVIDED: read it, do not change it. The tests and the benches use it as it is.
//! The `orders` table, its generator, and the query of the question.
//!
//! The schema and the generator are SQL, in `sql/` next to this crate, and
//! commented there: read `sql/seed.sql` to know which customers are whales.

use sqlx::PgPool;

/// The question's query, as the product runs it today.
pub const LATEST_ORDERS_SQL: &str =
    "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10";

/// `CREATE TABLE orders`, with nothing but its primary key.
pub const SCHEMA_SQL: &str = include_str!("../sql/schema.sql");

/// One `INSERT … SELECT … generate_series` filling `orders` ($1 rows, $2 scale).
pub const SEED_SQL: &str = include_str!("../sql/seed.sql");

/// Rows at `LAB_SCALE=1`. Big enough that a sequential scan reads some 12,800
/// pages and an index is the difference between thousands of pages and a
/// handful; small enough to seed in a few seconds.
pub const DEFAULT_ROWS: i64 = 500_000;

/// The biggest whale: 6% of all orders.
pub const WHALE: i64 = 1;
/// Customers 1 to 5 own 30% of the orders between them.
pub const WHALES: std::ops::RangeInclusive<i64> = 1..=5;
/// A customer with no orders (and, until a test gives it some, none at all).
pub const NEW_CUSTOMER: i64 = 9_000_000;

/// `LAB_SCALE`: a positive whole number multiplying [`DEFAULT_ROWS`] (unset: 1).
pub fn scale() -> Result<i64, String> {
    match std::env::var("LAB_SCALE") {
        Err(_) => Ok(1),
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(format!(
                "LAB_SCALE={text:?}: use a whole number from 1 to 1000 (rows = 500,000 × LAB_SCALE)"
            )),
        },
    }
}

/// Create `orders` (empty).
pub async fn create(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(SCHEMA_SQL).execute(pool).await?;
    Ok(())
}

/// Fill `orders` with `rows` rows at `scale`, then bring the identity past
/// them and the statistics and visibility map up to date (`VACUUM ANALYZE`),
/// as a table that has been live for a while would be.
pub async fn seed(pool: &PgPool, rows: i64, scale: i64) -> Result<(), sqlx::Error> {
    sqlx::query(SEED_SQL)
        .bind(rows)
        .bind(scale)
        .execute(pool)
        .await?;
    sqlx::query(
        "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))",
    )
    .execute(pool)
    .await?;
    sqlx::query("VACUUM (ANALYZE) orders").execute(pool).await?;
    Ok(())
}
