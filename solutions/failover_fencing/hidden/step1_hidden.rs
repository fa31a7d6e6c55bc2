//! Step 1, hidden.

use failover_fencing::{Directory, failover};

use crate::support::{self, TIMEOUT, bounded, url};

/// Two standbys that replayed exactly as much: the first listed is promoted,
/// so a controller that runs again makes the same choice from the same facts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_hidden_equally_advanced_standbys_promote_the_first_listed() -> anyhow::Result<()> {
    let cluster = support::cluster(2).await?;
    let mut conn = cluster.connect(0).await?;
    support::write_acked(&mut conn, "p", 2).await?;
    drop(conn);
    cluster.wait_caught_up(1).await?;
    cluster.wait_caught_up(2).await?;
    // Freeze both positions where they are, equal.
    cluster.pause_replay(1).await?;
    cluster.pause_replay(2).await?;
    let (one, two) = (cluster.lsns(1).await?.replay, cluster.lsns(2).await?.replay);
    assert_eq!(one, two, "the test needs two equal replay positions");
    let directory = Directory::new(url(&cluster, 0));
    let standbys = vec![url(&cluster, 2), url(&cluster, 1)];
    let promoted = bounded("failover", failover(&standbys, TIMEOUT, &directory)).await??;
    assert_eq!(
        promoted.url,
        url(&cluster, 2),
        "on a tie, the first standby listed is promoted (README step 1)"
    );
    Ok(())
}
