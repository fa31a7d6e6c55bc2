//! Step 4: the next page costs what the first one did.
//!
//! Keyset pagination ("seek"): instead of counting rows to skip, say where the
//! last page ended and ask for what comes after it in the index's order:
//!
//! ```sql
//! WHERE customer_id = $1 AND (created_at, id) < ($2, $3)
//! ORDER BY created_at DESC, id DESC
//! ```
//!
//! The row comparison is one `Index Cond` on `(customer_id, created_at DESC,
//! id DESC)`: Postgres descends the B-tree straight to the position and reads
//! the next rows, so page 1,000 touches the same few pages as page 1. The
//! order must be total (`id` breaks the ties of `created_at`), and the
//! comparison strict (`<`): a cursor on `created_at` alone skips the rest of a
//! tie at a page boundary, `<=` repeats the boundary row. Rows inserted while a
//! client pages are newer than its cursor, so they never shift later pages.
//!
//! One row more than asked for is fetched: it says whether there is a next
//! page without a second query, and the last page says so (no empty page).

use sqlx::PgPool;

use crate::cursor::Cursor;
use crate::list_view::ListRow;

/// A page of a customer's orders, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub orders: Vec<ListRow>,
    /// Where the next page starts, or `None` if this is the last page.
    pub next: Option<Cursor>,
}

/// The first page: `$1` customer, `$2` rows to fetch. It is the list view
/// of step 3, exactly: the same columns, the same order, the same index.
pub fn first_page_sql() -> &'static str {
    crate::list_view::list_view_sql()
}

/// A later page: `$1` customer, `$2` the cursor's microseconds, `$3` its id,
/// `$4` rows to fetch. (`'epoch' + n microseconds` is exact for every
/// timestamp Postgres can store, and a constant, so it can seek the index.)
pub fn next_page_sql() -> &'static str {
    "SELECT id, (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us,
            status, total_cents, currency
       FROM orders
      WHERE customer_id = $1
        AND (created_at, id) < (timestamptz 'epoch' + $2 * interval '1 microsecond', $3)
      ORDER BY created_at DESC, id DESC
      LIMIT $4"
}

/// Up to `limit` orders of `customer_id` after `after` (from the newest if
/// `None`). `limit` is checked by the caller (the API allows 1 to 100).
pub async fn page(
    pool: &PgPool,
    customer_id: i64,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Page, sqlx::Error> {
    let fetch = limit + 1;
    let mut orders: Vec<ListRow> = match after {
        None => {
            sqlx::query_as(first_page_sql())
                .bind(customer_id)
                .bind(fetch)
                .fetch_all(pool)
                .await?
        }
        Some(cursor) => {
            sqlx::query_as(next_page_sql())
                .bind(customer_id)
                .bind(cursor.created_at_us)
                .bind(cursor.id)
                .bind(fetch)
                .fetch_all(pool)
                .await?
        }
    };
    let more = orders.len() as i64 > limit;
    orders.truncate(limit.max(0) as usize);
    let next = match (more, orders.last()) {
        (true, Some(last)) => Some(Cursor {
            customer_id,
            created_at_us: last.created_at_us,
            id: last.id,
        }),
        _ => None,
    };
    Ok(Page { orders, next })
}
