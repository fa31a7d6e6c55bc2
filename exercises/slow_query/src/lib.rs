//! # A slow query on a big table, made fast and kept fast
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p slow_query step1     # or: cargo lab check slow_query
//! ```
//!
//! | step | yours                          | what you build                                                 |
//! |------|--------------------------------|----------------------------------------------------------------|
//! | 1    | [`plan`]                       | read EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) into a summary     |
//! | 2    | [`index`]                      | the composite index, built CONCURRENTLY under a lock_timeout   |
//! | 3    | [`index`], [`list_view`]       | a covering index: the list view from an Index Only Scan        |
//! | 4    | [`cursor`], [`pages`], [`app`] | keyset pages with a signed cursor, over HTTP, bad input a 400  |
//! | 5    | [`partition`]                  | monthly partitions, a bounded copy, plans that stay cheap      |
//!
//! Provided (read them, do not change them): [`schema`] (and `sql/`), the
//! API's [`error`] type, and [`offset`], the OFFSET pages of the "before".
//! Every place you need to change is marked `// TODO(step N)`.

// The skeleton leaves parameters and imports unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(unused_variables, unused_imports, dead_code)]

pub mod error;
pub mod offset;
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
