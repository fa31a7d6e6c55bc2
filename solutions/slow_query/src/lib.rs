//! # A slow query on a big table, made fast and kept fast — reference
//!
//! | step | module                    | guarantee                                                            |
//! |------|---------------------------|----------------------------------------------------------------------|
//! | 1    | [`plan`]                  | a plan read from EXPLAIN's JSON as it is: nodes in order, totals from the root, per-loop counts times loops; explaining never changes data |
//! | 2    | [`index`]                 | `(customer_id, created_at DESC, id DESC)`, built CONCURRENTLY under a lock_timeout, retried, no INVALID index left |
//! | 3    | [`index`], [`list_view`]  | the list view answered by an Index Only Scan: no heap page once vacuumed |
//! | 4    | [`cursor`], [`pages`], [`app`] | keyset pages on a total order, signed cursors; page 1,000 costs page 1; bad input is a 400 |
//! | 5    | [`partition`]             | monthly partitions with the index on every one; the latest ten still stop early, cached plan or not |

// Provided files, shared with the exercise so the two cannot drift apart.
#[path = "../../../exercises/slow_query/src/error.rs"]
pub mod error;
#[path = "../../../exercises/slow_query/src/offset.rs"]
pub mod offset;
#[path = "../../../exercises/slow_query/src/schema.rs"]
pub mod schema;

pub mod app;
pub mod cursor;
pub mod index;
pub mod list_view;
pub mod pages;
pub mod partition;
pub mod plan;

pub use app::{AppState, DEFAULT_LIMIT, MAX_LIMIT, PageBody, router};
pub use cursor::{Cursor, CursorError, CursorKey};
pub use error::AppError;
pub use index::{
    BuildConfig, BuildReport, IndexDef, IndexError, build, latest_orders_index, list_view_index,
};
pub use list_view::{ListRow, list_view, list_view_sql};
pub use pages::{Page, first_page_sql, next_page_sql, page};
pub use partition::{
    Month, PARTITIONED, copy_batch, create_partitioned, ensure_month, latest_partitioned_sql,
};
pub use plan::{Param, PlanError, PlanNode, PlanSummary, explain};
