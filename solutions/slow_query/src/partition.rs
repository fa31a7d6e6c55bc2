//! Step 5: at 200M rows, partition by month.
//!
//! Partitioning does not make one customer's latest ten faster: the index of
//! step 2 already reads a handful of pages at any size. What it buys is
//! operational: a month is a table of its own, so dropping old data is `DROP
//! TABLE` (not a DELETE of millions of rows and the VACUUM after it), each
//! index stays small enough to rebuild, and VACUUM works month by month.
//!
//! What it must not cost: the latest ten must still stop early. Partitions by
//! `created_at` are ordered, so Postgres plans an *ordered* Append: it reads the
//! newest month's index first and never opens the older months once it has ten
//! rows. A new customer with no orders costs a probe of every month's index (a
//! few pages each): the price of not partitioning by customer.
//!
//! **The migration: declared from the start, then copied.** The new table is
//! created empty with its partitions and its index, and the rows are copied
//! in bounded batches by id (each batch one short statement, resumable from the
//! last id copied, idempotent thanks to the primary key). In production the
//! application would write to both tables meanwhile (a trigger, as in
//! column_migration), and a final short lock would swap the names.
//!
//! **The index on every partition.** Declared once on the partitioned table,
//! it is created on every partition that exists and on every partition created
//! later. An index made partition by partition misses next month's.
//!
//! **Plans cached by prepared statements.** From its sixth execution Postgres
//! may switch a prepared statement to a generic plan, made without knowing the
//! customer. With this index the generic plan is the same ordered Append of
//! index scans, right for a whale and for a tiny customer, so the default
//! (`plan_cache_mode = auto`) stays. Had the index been on `customer_id` alone,
//! the plan for a tiny customer (scan, then sort a few rows) would be ruinous
//! for a whale, and `force_custom_plan` for this statement would be the fix.

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
        assert!((1..=12).contains(&month), "month {month} is not 1 to 12");
        Month { year, month }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month::new(self.year + 1, 1)
        } else {
            Month::new(self.year, self.month + 1)
        }
    }

    /// `orders_by_month_2026_01`.
    pub fn partition_name(self) -> String {
        format!("{PARTITIONED}_{:04}_{:02}", self.year, self.month)
    }

    /// `2026-01-01`: the month's first day, the lower bound (inclusive) of its
    /// partition; the next month's is the upper bound (exclusive).
    pub fn first_day(self) -> String {
        format!("{:04}-{:02}-01", self.year, self.month)
    }
}

/// The latest ten orders of `$1`, from the partitioned table.
pub fn latest_partitioned_sql() -> &'static str {
    "SELECT * FROM orders_by_month WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT 10"
}

/// Create [`PARTITIONED`] like `orders`, with the index of step 2 declared on
/// it, and one partition per month from `first` for `months` months.
pub async fn create_partitioned(
    pool: &PgPool,
    first: Month,
    months: u32,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // The primary key of a partitioned table must contain the partition key.
    sqlx::query(
        "CREATE TABLE orders_by_month (
             LIKE orders INCLUDING DEFAULTS,
             PRIMARY KEY (id, created_at)
         ) PARTITION BY RANGE (created_at)",
    )
    .execute(&mut *tx)
    .await?;
    // LIKE copies no identity: new rows take their ids from orders' own
    // sequence, so ids stay unique across both tables, before and after a swap.
    sqlx::query(
        "ALTER TABLE orders_by_month ALTER COLUMN id
             SET DEFAULT nextval(pg_get_serial_sequence('orders', 'id')::regclass)",
    )
    .execute(&mut *tx)
    .await?;
    // On the parent: every partition, now or later, gets its own copy.
    sqlx::query(
        "CREATE INDEX orders_by_month_customer_latest
             ON orders_by_month (customer_id, created_at DESC, id DESC)",
    )
    .execute(&mut *tx)
    .await?;
    let mut month = first;
    for _ in 0..months {
        create_partition(&mut tx, month).await?;
        month = month.next();
    }
    tx.commit().await
}

/// Make sure `month` has its partition (run it ahead of time: a row whose
/// month has none is refused). Returns whether it was created now.
pub async fn ensure_month(pool: &PgPool, month: Month) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Two schedulers at once: the check and the create must not interleave
    // (both would see no partition, and one CREATE would fail). A transaction
    // advisory lock makes them take turns.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('orders_by_month partitions'))")
        .execute(&mut *tx)
        .await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(month.partition_name())
        .fetch_one(&mut *tx)
        .await?;
    if exists {
        return Ok(false);
    }
    create_partition(&mut tx, month).await?;
    tx.commit().await?;
    Ok(true)
}

async fn create_partition(conn: &mut sqlx::PgConnection, month: Month) -> Result<(), sqlx::Error> {
    // Names and bounds come from `Month`'s numbers, never from user text.
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF orders_by_month
             FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
        month.partition_name(),
        month.first_day(),
        month.next().first_day()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(conn).await?;
    Ok(())
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
    if batch < 1 {
        return Err(sqlx::Error::InvalidArgument(format!(
            "a batch of {batch} rows copies nothing: use at least 1"
        )));
    }
    sqlx::query_scalar(
        "WITH batch AS (
             SELECT * FROM orders WHERE id > $1 ORDER BY id LIMIT $2
         ), copied AS (
             INSERT INTO orders_by_month SELECT * FROM batch
             ON CONFLICT (id, created_at) DO NOTHING
         )
         SELECT max(id) FROM batch",
    )
    .bind(after_id)
    .bind(batch)
    .fetch_one(pool)
    .await
}
