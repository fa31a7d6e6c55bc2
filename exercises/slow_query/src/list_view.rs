//! Step 3: the list view reads the index and nothing else.
//!
//! The product's order list shows five columns: id, created_at, status,
//! total_cents, currency. Write its query so that, with the right index and
//! a vacuumed table, Postgres never visits the heap (README step 3).

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
    // TODO(step 3): $1 customer, $2 limit; the five columns only (created_at as microseconds since the
    //     epoch, named created_at_us), newest first, ties newest id first.
    todo!("step 3: list_view_sql — see README step 3")
}

/// A customer's latest `limit` orders, for the list view.
pub async fn list_view(
    pool: &PgPool,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<ListRow>, sqlx::Error> {
    // TODO(step 3): run list_view_sql() into ListRow.
    todo!("step 3: list_view — see README step 3")
}
