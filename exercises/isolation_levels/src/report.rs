//! Step 6: a report that is never wrong, and never aborts anyone.

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
    // TODO(step 6): choose the transaction mode that makes this right and
    // never aborts a writer; read control.current_batch, refuse a batch that
    // is not closed, then count and sum its receipts.
    todo!("step 6: the batch report (README step 6)")
}
