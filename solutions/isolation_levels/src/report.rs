//! Step 6: a report that is never wrong, and never aborts anyone.
//!
//! At REPEATABLE READ the report reads one snapshot, and the snapshot can be
//! the impossible one: it contains the close of batch 1 but not a receipt
//! that was already headed for batch 1. Plain SERIALIZABLE would notice the
//! cycle, but too late for the report, which has already returned its total;
//! Postgres then aborts the receipt's commit instead, and a read-only report
//! has cost a customer their payment.
//!
//! `SERIALIZABLE READ ONLY DEFERRABLE` waits, before reading anything, for a
//! *safe snapshot*: one taken when no concurrent serializable read-write
//! transaction can still make it part of a cycle. From a safe snapshot a
//! read-only transaction cannot be in a dangerous structure, so it takes no
//! predicate locks, is never aborted, and never causes an abort. The price is
//! the wait, bounded by the longest serializable writer running at the start.

use sqlx::PgPool;

/// A closed batch's total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchTotal {
    pub batch: i32,
    pub receipts: i64,
    pub total_cents: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Batch `batch` is still open (or not yet opened); only a closed batch's
    /// total is final.
    #[error("batch {batch} is not closed (the current batch is {current})")]
    NotClosed { batch: i32, current: i32 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The total of closed batch `batch`, from a snapshot that is consistent with
/// some serial order of every transaction.
pub async fn batch_report(pool: &PgPool, batch: i32) -> Result<BatchTotal, ReportError> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE")
        .await?;
    let current: i32 = sqlx::query_scalar("SELECT current_batch FROM control")
        .fetch_one(&mut *tx)
        .await?;
    if batch < 1 || batch >= current {
        return Err(ReportError::NotClosed { batch, current });
    }
    let (receipts, total_cents): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(amount_cents), 0)::bigint FROM receipts WHERE batch = $1",
    )
    .bind(batch)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(BatchTotal {
        batch,
        receipts,
        total_cents,
    })
}
