//! Step 4, hidden.

use std::time::Duration;

use failover_fencing::{ReadFrom, ReadPolicy, read_after_write, write_with_token};

use crate::support::{self, bounded, url};

/// A poll interval far longer than max_wait never stretches the wait: the read
/// falls back to the primary by max_wait, not after a whole poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_hidden_the_wait_never_outlasts_max_wait_whatever_the_poll() -> anyhow::Result<()> {
    let cluster = support::cluster(1).await?;
    cluster.pause_replay(1).await?;
    let mut primary = cluster.connect(0).await?;
    let (ack, token) = bounded(
        "write_with_token",
        write_with_token(&mut primary, "mine", 10),
    )
    .await??;
    let policy = ReadPolicy {
        max_wait: Duration::from_millis(100),
        poll: Duration::from_secs(8),
    };
    let started = tokio::time::Instant::now();
    let (payment, from) = bounded(
        "read_after_write",
        read_after_write(&url(&cluster, 1), &url(&cluster, 0), token, ack.id, policy),
    )
    .await??;
    assert_eq!(
        (payment.map(|p| p.id), from),
        (Some(ack.id), ReadFrom::Primary)
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "max_wait is 100 ms and the primary answers at once; the read took {:?}: a sleep of a whole \
         poll (8 s) past the deadline, cut short only by some outer bound (README step 4)",
        started.elapsed()
    );
    Ok(())
}
