//! Step 3 — replication by anti-entropy: nodes exchange state with every peer,
//! keep accepting increments while partitioned, and converge once the
//! partitions heal — within a bounded number of rounds.

use std::time::{Duration, Instant};

use distributed_counter::Mode;
use serde_json::json;

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

/// One exchange goes both ways: after n1 alone syncs with n2, each has the
/// other's increments (the peer merges what it is sent; n1 merges the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_one_exchange_carries_increments_both_ways() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "both", 5, "at-n1").await.0,
        Outcome::Acked
    );
    assert_eq!(
        cluster.increment(1, "both", 3, "at-n2").await.0,
        Outcome::Acked
    );
    cluster.sync(0).await?;
    assert_eq!(
        cluster.value_at(1, "both").await?,
        8,
        "README step 3: an exchange goes both ways; the peer must merge the state it is sent"
    );
    assert_eq!(
        cluster.value_at(0, "both").await?,
        8,
        "README step 3: an exchange goes both ways; the caller must merge the peer's answer"
    );
    Ok(())
}

/// A round goes on past a peer it cannot reach: with n3's link to n1 cut, n3's
/// round alone still brings n2 its increment, and reports one peer reached and
/// one failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_round_goes_on_past_a_peer_it_cannot_reach() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    cluster.partition(0, 2);
    assert_eq!(
        cluster.increment(2, "past", 4, "at-n3").await.0,
        Outcome::Acked
    );
    // n3's peers are n1 (cut off) and n2, in that order.
    let report = cluster.sync(2).await?;
    assert_eq!(
        report,
        json!({ "peers_reached": 1, "peers_failed": 1 }),
        "README step 3: a round skips (and counts) an unreachable peer and goes on to the next"
    );
    assert_eq!(
        cluster.value_at(1, "past").await?,
        4,
        "n2 learned n3's increment in n3's round"
    );
    Ok(())
}

/// A peer that stops answering (a black hole, not a refused connection) costs
/// a round at most the node's timeout (1 s): the round goes on to the next peer
/// and `/admin/sync` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_stalled_peer_delays_a_round_by_at_most_the_timeout() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "stalled", 3, "at-n1").await.0,
        Outcome::Acked
    );
    // n1's peers are n2 (stalled) and n3, in that order.
    cluster.stall_between(0, 1);
    let started = Instant::now();
    let report = labkit::within(
        Duration::from_secs(3),
        "n1's round with n2 stalled (README step 3: every call to a peer is bounded by the 1 s timeout)",
        cluster.sync(0),
    )
    .await??;
    assert_eq!(
        report,
        json!({ "peers_reached": 1, "peers_failed": 1 }),
        "README step 3: the stalled n2 fails after the timeout and n3 is still reached (round took {:?})",
        started.elapsed()
    );
    assert_eq!(
        cluster.value_at(2, "stalled").await?,
        3,
        "n3 learned n1's increment in the same round"
    );
    Ok(())
}

/// A node whose own database stops answering still ends its round within the
/// timeout, counting the peer it could not exchange with as failed: the store
/// calls of a round are bounded like every other store call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_round_at_a_node_whose_database_stalls_ends_within_the_timeout()
-> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "cut-db", 1, "before").await.0,
        Outcome::Acked
    );
    cluster.db_links[0].stall();
    let report = labkit::within(
        Duration::from_secs(3),
        "n1's round with its database stalled (README step 3: a round's store calls are bounded by the 1 s timeout)",
        cluster.sync(0),
    )
    .await??;
    assert_eq!(
        report,
        json!({ "peers_reached": 0, "peers_failed": 1 }),
        "n1 cannot read its own state, so its exchange with n2 fails"
    );
    Ok(())
}

/// A peer's older view of a slot never lowers it: n1 decrements after n2 has
/// copied n1's slots, then n2 sends its older copy back; the decrement stays,
/// at both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_peers_older_view_never_undoes_a_decrement() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "older", 5, "up").await.0,
        Outcome::Acked
    );
    cluster.round().await?;
    assert_eq!(
        cluster.increment(0, "older", -2, "down").await.0,
        Outcome::Acked
    );
    // n2 still holds n1's slots as 5 increments, 0 decrements, and sends them.
    cluster.sync(1).await?;
    assert_eq!(
        cluster.values("older").await?,
        vec![3, 3],
        "README step 3: merge takes GREATEST per slot, decrements included; \
         an older decrement slot must not overwrite a newer one"
    );
    Ok(())
}

/// With five nodes, a node whose first two peers are cut off still converges
/// through the other two: a round talks to every peer, not a fixed few.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_five_nodes_converge_when_a_nodes_first_two_peers_are_cut_off() -> anyhow::Result<()>
{
    let cluster = Cluster::start(5, Mode::Crdt).await?;
    // n5's peers are n1, n2, n3, n4, in that order.
    cluster.partition(4, 0);
    cluster.partition(4, 1);
    assert_eq!(
        cluster.increment(0, "five", 10, "at-n1").await.0,
        Outcome::Acked
    );
    assert_eq!(
        cluster.increment(4, "five", 1, "at-n5").await.0,
        Outcome::Acked
    );
    cluster.round().await?;
    cluster.round().await?;
    assert_eq!(
        cluster.values("five").await?,
        vec![11; 5],
        "README step 3: a round exchanges with every peer, so n5 converges through n3 and n4"
    );
    Ok(())
}
