//! Step 5, hidden.

use failover_fencing::post_failover_checklist;

use crate::support::{self, TIMEOUT, bounded, url};

/// An unlogged table the new primary has already refilled is not reported:
/// the report is of tables that came back *empty*, not of every unlogged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_hidden_an_unlogged_table_refilled_is_not_reported() -> anyhow::Result<()> {
    let mut cluster = support::cluster(1).await?;
    cluster
        .execute(0, "INSERT INTO quotes_cache VALUES ('EUR', 1.08)")
        .await?;
    cluster.wait_caught_up(1).await?;
    support::crash_and_promote(&mut cluster, 1).await?;
    cluster
        .execute(
            1,
            "CREATE UNLOGGED TABLE sessions (id int); INSERT INTO quotes_cache VALUES ('EUR', 1.09)",
        )
        .await?;
    let report = bounded(
        "post_failover_checklist",
        post_failover_checklist(&url(&cluster, 1), &[], 1, TIMEOUT),
    )
    .await??;
    assert_eq!(
        report.empty_unlogged,
        ["public.sessions"],
        "quotes_cache has a row again; sessions is unlogged and empty (README step 5)"
    );
    Ok(())
}
