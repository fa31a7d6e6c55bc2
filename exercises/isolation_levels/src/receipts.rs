// PROVIDED: receipts and batches (step 6). You do not need to change this
// file; the report is yours, in report.rs.

//! The read-only anomaly (Fekete, O'Neil and O'Neil, 2004).
//!
//! Receipts go into the current batch; closing a batch moves the counter on,
//! and a closed batch's total is final — or should be. A receipt transaction
//! that read "batch 1 is current" before the close, and commits after it,
//! still adds to batch 1. A report that saw the close and summed batch 1 in
//! between has printed a total that no serial order of the three
//! transactions produces. Every transaction here is correct alone, the writers
//! even run at SERIALIZABLE; only the reader's level decides.

use sqlx::PgConnection;

/// Add a receipt to the current batch, inside the caller's transaction.
/// Returns the batch it went into.
pub async fn add_receipt(conn: &mut PgConnection, amount_cents: i64) -> Result<i32, sqlx::Error> {
    let batch: i32 = sqlx::query_scalar("SELECT current_batch FROM control")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO receipts (batch, amount_cents) VALUES ($1, $2)")
        .bind(batch)
        .bind(amount_cents)
        .execute(&mut *conn)
        .await?;
    Ok(batch)
}

/// Close the current batch, inside the caller's transaction. Returns the
/// batch that was closed.
pub async fn close_batch(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE control SET current_batch = current_batch + 1 RETURNING current_batch - 1",
    )
    .fetch_one(&mut *conn)
    .await
}
