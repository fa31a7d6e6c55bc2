//! Step 4: the next page costs what the first one did.
//!
//! Keyset pagination: no OFFSET, but "the rows after this position" in the
//! index's own order, so that page 1,000 reads what page 1 reads. The order
//! must be total, the comparison must seek the index, and the last page must
//! say it is the last (README step 4).

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

/// The first page: `$1` customer, `$2` rows to fetch.
pub fn first_page_sql() -> &'static str {
    // TODO(step 4): $1 customer, $2 rows to fetch; the list view's five columns.
    todo!("step 4: first_page_sql — see README step 4")
}

/// A later page: `$1` customer, `$2` the cursor's microseconds, `$3` its id,
/// `$4` rows to fetch. (`'epoch' + n microseconds` is exact for every
/// timestamp Postgres can store, and a constant, so it can seek the index.)
pub fn next_page_sql() -> &'static str {
    // TODO(step 4): $1 customer, $2 cursor microseconds, $3 cursor id, $4 rows to fetch: the rows strictly
    //     after the cursor in (created_at DESC, id DESC) order, as one Index Cond.
    todo!("step 4: next_page_sql — see README step 4")
}

/// Up to `limit` orders of `customer_id` after `after` (from the newest if
/// `None`). `limit` is checked by the caller (the API allows 1 to 100).
pub async fn page(
    pool: &PgPool,
    customer_id: i64,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<Page, sqlx::Error> {
    // TODO(step 4): how do you know whether there is a next page without a second query?
    todo!("step 4: page — see README step 4")
}
