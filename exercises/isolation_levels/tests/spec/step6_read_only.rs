//! Step 6: the read-only anomaly, and a report that never sees it.

use isolation_levels::receipts::{add_receipt, close_batch};
use isolation_levels::{BatchTotal, ReportError, batch_report};

use crate::support::{self, BOUND};

/// A receipt headed for batch 1 commits after batch 1 is closed: the report
/// waits for it instead of printing a total it would contradict, and the
/// receipt's commit is never aborted.
#[tokio::test]
async fn step6_the_report_waits_out_a_receipt_in_flight_and_aborts_nobody() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    let mut earlier = pool.begin().await?;
    add_receipt(&mut earlier, 100).await?;
    earlier.commit().await?;

    // The receipt in flight: serializable, it read "batch 1 is current".
    let mut receipt = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    assert_eq!(add_receipt(&mut receipt, 5).await?, 1);
    // Batch 1 is closed meanwhile.
    let mut close = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    assert_eq!(close_batch(&mut close).await?, 1);
    close.commit().await?;

    let report = {
        let pool = pool.clone();
        tokio::spawn(async move { batch_report(&pool, 1).await })
    };
    // Settle: the report has either returned or is seen waiting.
    let waited = support::seen_before_it_finished(
        pool,
        &report,
        support::SOMEONE_WAITS_FOR_A_SAFE_SNAPSHOT,
        "the report",
    )
    .await?;
    let committed = receipt.commit().await;
    let report = labkit::within(BOUND, "the report", report).await??;
    assert!(
        committed.is_ok(),
        "the receipt's commit failed ({committed:?}): the report made SSI abort a writer; a \
         read-only report must not (README, step 6)"
    );
    let report = report.map_err(|e| anyhow::anyhow!("the report failed: {e}"))?;
    let final_total: i64 =
        sqlx::query_scalar("SELECT sum(amount_cents)::bigint FROM receipts WHERE batch = 1")
            .fetch_one(pool)
            .await?;
    assert_eq!(
        report,
        BatchTotal {
            batch: 1,
            receipts: 2,
            total_cents: final_total
        },
        "the report printed batch 1 as closed with a total that the receipt committed \
         afterwards contradicts (README, step 6)"
    );
    assert!(
        waited,
        "the report returned the right total without waiting: was it lucky?"
    );
    Ok(())
}

/// With no writer in flight the report returns each closed batch's own total,
/// and refuses the open batch and batches that never existed.
#[tokio::test]
async fn step6_the_report_totals_closed_batches_and_refuses_open_ones() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    let mut tx = pool.begin().await?;
    add_receipt(&mut tx, 10).await?;
    add_receipt(&mut tx, 20).await?;
    close_batch(&mut tx).await?;
    add_receipt(&mut tx, 7).await?;
    close_batch(&mut tx).await?;
    add_receipt(&mut tx, 1000).await?;
    tx.commit().await?;
    // Batches 1 and 2 are closed, 3 is current.
    let one = batch_report(pool, 1).await?;
    let two = batch_report(pool, 2).await?;
    assert_eq!(
        one,
        BatchTotal {
            batch: 1,
            receipts: 2,
            total_cents: 30
        },
        "batch 1"
    );
    assert_eq!(
        two,
        BatchTotal {
            batch: 2,
            receipts: 1,
            total_cents: 7
        },
        "batch 2"
    );
    for batch in [3, 4, 0, -1] {
        let result = batch_report(pool, batch).await;
        assert!(
            matches!(result, Err(ReportError::NotClosed { batch: b, current: 3 }) if b == batch),
            "batch {batch} is not closed (the current batch is 3), so NotClosed, got {result:?} \
             (README, bad input)"
        );
    }
    Ok(())
}
