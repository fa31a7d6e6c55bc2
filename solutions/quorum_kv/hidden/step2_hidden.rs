//! Step 2, hidden.

use quorum_kv::Mode;

use crate::support::{Cluster, SETTLE, blind, config};

/// A stand-in that cannot take a write passes it, and its hint, to the next
/// stand-in: the home it was meant for still gets it after the partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_hidden_a_failed_stand_in_passes_the_hint_to_the_next() -> anyhow::Result<()> {
    let cluster = Cluster::start(5, config(3, Mode::Ap)).await?;
    cluster.link(0, 1).cut();
    cluster.link(0, 3).cut();
    cluster.link(4, 1).cut();
    cluster.put_ok(0, "k", "v", &blind()).await?;
    labkit::eventually(SETTLE, "node 4 to hold the hint for node 1", || async {
        Ok(cluster.hints(4).await? == vec![(1, "k".to_string())])
    })
    .await?;
    cluster.heal();
    cluster.wait_held(&[1], "k", &["v"]).await?;
    Ok(())
}

/// Two concurrent writes hinted for the same home on the same stand-in are
/// two hints, and both reach the home: the later does not replace the earlier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_hidden_two_hints_for_one_home_and_key_are_both_delivered() -> anyhow::Result<()> {
    let cluster = Cluster::start(4, config(3, Mode::Ap)).await?;
    for from in [0, 2, 3] {
        cluster.link(from, 1).cut();
    }
    cluster.put_ok(0, "k", "x", &blind()).await?;
    cluster.put_ok(2, "k", "y", &blind()).await?;
    let both = vec![(1, "k".to_string()), (1, "k".to_string())];
    labkit::eventually(SETTLE, "node 3 to hold both hints for node 1", || async {
        Ok(cluster.hints(3).await? == both)
    })
    .await?;
    cluster.link(3, 1).restore();
    cluster.wait_held(&[1], "k", &["x", "y"]).await?;
    labkit::eventually(SETTLE, "node 3 to drop both hints", || async {
        Ok(cluster.hints(3).await?.is_empty())
    })
    .await?;
    Ok(())
}
