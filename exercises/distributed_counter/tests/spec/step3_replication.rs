//! Step 3 — replication by anti-entropy: nodes exchange state with every peer,
//! keep accepting increments while partitioned, and converge once the
//! partitions heal — within a bounded number of rounds.

use std::time::Duration;

use distributed_counter::Mode;

use crate::support::{Cluster, Outcome};

/// Increments made at three different nodes are everywhere after one round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_increments_at_different_nodes_converge_after_one_round() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    for (i, delta) in [(0, 5), (1, 3), (2, -1)] {
        assert_eq!(
            cluster
                .increment(i, "hits", delta, &format!("r{i}"))
                .await
                .0,
            Outcome::Acked
        );
    }
    cluster.round().await?;
    assert_eq!(
        cluster.values("hits").await?,
        vec![7, 7, 7],
        "README step 3: one push-pull round with every peer"
    );
    Ok(())
}

/// Both sides of a partition keep accepting increments (availability); after it
/// heals, two rounds bring every node to the same, complete value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_after_a_partition_heals_every_node_converges_within_two_rounds() -> anyhow::Result<()>
{
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    cluster.partition(0, 1);
    cluster.partition(0, 2);
    let mut expected = 0;
    for n in 0..12 {
        let node = n % 3;
        let (outcome, _) = cluster.increment(node, "votes", 2, &format!("v{n}")).await;
        assert_eq!(
            outcome,
            Outcome::Acked,
            "README step 3: a partitioned node still accepts increments"
        );
        expected += 2;
        if n % 4 == 3 {
            cluster.round().await?; // gossip keeps trying across the partition
        }
    }
    cluster.heal();
    cluster.round().await?;
    cluster.round().await?;
    assert_eq!(
        cluster.values("votes").await?,
        vec![expected; 3],
        "converged within two rounds of healing"
    );
    Ok(())
}

/// With only n1–n3 cut, n3 still learns n1's increments through n2: a node must
/// gossip with every peer, not one favourite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_information_routes_around_a_partition() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    cluster.partition(0, 2);
    assert_eq!(
        cluster.increment(0, "x", 10, "from-n1").await.0,
        Outcome::Acked
    );
    assert_eq!(
        cluster.increment(2, "x", 1, "from-n3").await.0,
        Outcome::Acked
    );
    cluster.round().await?;
    cluster.round().await?;
    assert_eq!(
        cluster.values("x").await?,
        vec![11, 11, 11],
        "README step 3: with n1–n3 cut, every node still converges through n2"
    );
    Ok(())
}

/// Rounds can repeat any number of times: states delivered again change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_repeated_rounds_never_count_anything_twice() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    for i in 0..3 {
        cluster.increment(i, "y", 4, &format!("r{i}")).await;
    }
    for _ in 0..5 {
        cluster.round().await?;
    }
    assert_eq!(
        cluster.values("y").await?,
        vec![12, 12, 12],
        "README step 3: merging twice must not add twice"
    );
    Ok(())
}

/// Without being asked, periodic gossip converges the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_periodic_gossip_converges_without_being_asked() -> anyhow::Result<()> {
    let cluster = Cluster::start_with(3, Mode::Crdt, |c| {
        c.gossip_interval = Some(Duration::from_millis(100))
    })
    .await?;
    for i in 0..3 {
        let (outcome, body) = cluster
            .increment(i, "z", i as i64 + 1, &format!("r{i}"))
            .await;
        assert_eq!(
            outcome,
            Outcome::Acked,
            "README step 2: increments must work first: {body:?}"
        );
    }
    labkit::eventually(
        Duration::from_secs(10),
        "periodic gossip to converge all nodes to 6",
        || async { Ok(cluster.values("z").await.is_ok_and(|v| v == vec![6, 6, 6])) },
    )
    .await?;
    Ok(())
}
