//! Step 3: the list view reads the index and nothing else.
//!
//! `SELECT *` makes Postgres visit the heap for every row returned: the index
//! holds the keys, not `items` or `shipping_address`. The list view needs
//! five columns, so an index that carries all five (the key columns plus
//! `INCLUDE (status, total_cents, currency)`) can answer it with an Index Only
//! Scan: no heap page at all, *if* the visibility map says every row on those
//! pages is visible to everyone. A page changed since the last VACUUM loses
//! that mark, and its rows cost a heap fetch again until autovacuum (or you)
//! runs VACUUM: an index-only scan is only as good as the vacuuming.

use sqlx::PgPool;

/// One row of the list view.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ListRow {
    pub id: i64,
    /// `created_at` as microseconds since the Unix epoch (UTC): exact, and
    /// what the cursor of step 4 carries.
    pub created_at_us: i64,
    pub status: String,
    pub total_cents: i64,
    pub currency: String,
}

/// The list view's query: `$1` customer, `$2` limit; newest first, ties by id
/// (newest first too), the five columns only.
pub fn list_view_sql() -> &'static str {
    "SELECT id, (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us,
            status, total_cents, currency
       FROM orders
      WHERE customer_id = $1
      ORDER BY created_at DESC, id DESC
      LIMIT $2"
}

/// A customer's latest `limit` orders, for the list view.
pub async fn list_view(
    pool: &PgPool,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<ListRow>, sqlx::Error> {
    sqlx::query_as(list_view_sql())
        .bind(customer_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}
