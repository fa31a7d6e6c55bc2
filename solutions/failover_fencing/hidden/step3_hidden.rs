//! Step 3, hidden.

use failover_fencing::{FailoverError, promote_with_epoch, write_fenced};

use crate::support::{self, TIMEOUT, bounded, count, url};

/// A client that already carries the new epoch writes to the old primary before
/// anyone fenced it: the token is newer than that database, and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_hidden_a_token_newer_than_the_database_is_refused_too() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.freeze(0);
    let epoch = bounded(
        "promote_with_epoch",
        promote_with_epoch(&url(&cluster, 1), TIMEOUT),
    )
    .await??;
    cluster.thaw(0);
    let mut old = cluster.connect(0).await?;
    match bounded(
        "write_fenced",
        write_fenced(&mut old, epoch, "misrouted", 10),
    )
    .await?
    {
        Err(FailoverError::Fenced { carried, current }) => {
            assert_eq!((carried, current), (epoch, 1))
        }
        other => panic!(
            "epoch {epoch} reaching a server still at epoch 1 means that server missed the promotion: Fenced (README step 3), got {other:?}"
        ),
    }
    assert_eq!(count(&cluster, 0, "misrouted").await?, 0);
    Ok(())
}
