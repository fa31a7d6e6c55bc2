//! Step 6, hidden: a closed batch with no receipts.

use isolation_levels::receipts::close_batch;
use isolation_levels::{BatchTotal, batch_report};

use crate::support;

/// A batch closed without a single receipt reports zero receipts and a zero
/// total, not an error.
#[tokio::test]
async fn step6_hidden_an_empty_closed_batch_totals_zero() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    let mut tx = pool.begin().await?;
    close_batch(&mut tx).await?;
    tx.commit().await?;
    let report = batch_report(pool, 1).await;
    assert!(
        matches!(
            report,
            Ok(BatchTotal {
                batch: 1,
                receipts: 0,
                total_cents: 0
            })
        ),
        "batch 1 is closed and empty: expected 0 receipts totalling 0, got {report:?} (README, step 6)"
    );
    Ok(())
}
