//! Step 2, hidden.

use failover_fencing::app;
use failover_fencing::reconcile;

use crate::support::{self, TIMEOUT, bounded, url};

/// After a loss larger than the sequence's margin, the new primary hands a lost
/// payment's id to a new payment: reconcile still calls the lost one missing,
/// because the row with its id is somebody else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_hidden_a_lost_id_reused_by_another_payment_is_still_missing() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    let mut conn = cluster.connect(0).await?;
    let safe = support::write_acked(&mut conn, "safe", 2).await?;
    cluster.wait_caught_up(1).await?;
    cluster.link(1).cut();
    let lost = support::write_acked(&mut conn, "lost", 40).await?;
    drop(conn);
    support::crash_and_promote(&mut cluster, 1).await?;
    let mut conn = cluster.connect(1).await?;
    let newcomer = app::write_payment(&mut conn, "newcomer", 5).await?;
    assert!(
        lost.iter().any(|a| a.id == newcomer.id),
        "the test expects the new payment to reuse a lost id, got {}",
        newcomer.id
    );
    let acknowledged: Vec<_> = safe.iter().chain(&lost).cloned().collect();
    let found = bounded(
        "reconcile",
        reconcile(&acknowledged, &url(&cluster, 1), TIMEOUT),
    )
    .await??;
    assert_eq!(
        found.missing,
        lost,
        "payment {} is lost even though id {} exists again: it belongs to another payment (README step 2)",
        lost.iter()
            .find(|a| a.id == newcomer.id)
            .map(|a| a.reference.as_str())
            .unwrap_or("?"),
        newcomer.id
    );
    Ok(())
}
