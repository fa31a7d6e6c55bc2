//! Step 5: at 200M rows, partition by month.
//!
//! Declare `orders_by_month`, range-partitioned by `created_at`, one
//! partition per month, with the index of step 2 on every partition
//! (including those created later); copy `orders` into it in bounded,
//! resumable batches; and keep the latest ten cheap, whatever plan a prepared
//! statement caches. README step 5 says what each test checks.

use sqlx::PgPool;

/// The partitioned table.
pub const PARTITIONED: &str = "orders_by_month";

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Month {
        // TODO(step 5): a month from 1 to 12 (panic otherwise: it is a programming error).
        todo!("step 5: new — see README step 5")
    }

    pub fn next(self) -> Month {
        // TODO(step 5): the month after this one.
        todo!("step 5: next — see README step 5")
    }

    /// `orders_by_month_2026_01`.
    pub fn partition_name(self) -> String {
        // TODO(step 5): orders_by_month_YYYY_MM.
        todo!("step 5: partition_name — see README step 5")
    }

    /// `2026-01-01`: the month's first day, the lower bound (inclusive) of its
    /// partition; the next month's is the upper bound (exclusive).
    pub fn first_day(self) -> String {
        // TODO(step 5): YYYY-MM-01.
        todo!("step 5: first_day — see README step 5")
    }
}

/// The latest ten orders of `$1`, from the partitioned table.
pub fn latest_partitioned_sql() -> &'static str {
    // TODO(step 5): the latest ten of $1 from orders_by_month, in a total order.
    todo!("step 5: latest_partitioned_sql — see README step 5")
}

/// Create [`PARTITIONED`] like `orders`, with the index of step 2 declared on
/// it, and one partition per month from `first` for `months` months.
pub async fn create_partitioned(
    pool: &PgPool,
    first: Month,
    months: u32,
) -> Result<(), sqlx::Error> {
    // TODO(step 5): the parent like orders (its primary key must include the partition key), the index,
    //     and the partitions: where must the index be declared for next month's partition to get it?
    todo!("step 5: create_partitioned — see README step 5")
}

/// Make sure `month` has its partition (run it ahead of time: a row whose
/// month has none is refused). Returns whether it was created now.
pub async fn ensure_month(pool: &PgPool, month: Month) -> Result<bool, sqlx::Error> {
    // TODO(step 5): create the month's partition unless it exists; say whether it was created.
    todo!("step 5: ensure_month — see README step 5")
}

/// Copy up to `batch` rows of `orders` with id above `after_id`, in id order,
/// into the partitioned table; a row already there is skipped. Returns the
/// last id read, to pass as `after_id` next time, or `None` when there is
/// nothing left. A row whose month has no partition fails the whole batch
/// (one statement: nothing of it is copied).
pub async fn copy_batch(
    pool: &PgPool,
    after_id: i64,
    batch: i64,
) -> Result<Option<i64>, sqlx::Error> {
    // TODO(step 5): one statement: up to `batch` rows with id > after_id, in id order; copying a row twice
    //     must be harmless; return the last id read, None when nothing is left.
    todo!("step 5: copy_batch — see README step 5")
}
