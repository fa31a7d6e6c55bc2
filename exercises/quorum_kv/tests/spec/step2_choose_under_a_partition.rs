//! Step 2: choose under a partition. CP refuses what it cannot do with a
//! quorum; AP accepts on stand-ins and converges after the partition heals.
//! The same schedule runs against both.

use std::time::{Duration, Instant};

use quorum_kv::{Config, Mode, VersionVector};

use crate::support::{Cluster, Reply, SETTLE, blind, config, heard_from, waited_sorted};

/// What one run of the partition schedule saw.
pub(crate) struct Schedule {
    pub cluster: Cluster,
    pub minority_put: Reply,
    pub majority_put: Reply,
    pub minority_get: Reply,
    pub majority_get: Reply,
}

/// Five nodes, N = 3 (homes 0, 1, 2; stand-ins 3, 4), W = 2, R = `r`. `k` =
/// `v0` everywhere, then the partition {0, 3, 4} | {1, 2}: a write `a`
/// through node 0, a write `b` through node 1 (both after `v0`), a read
/// through each side.
pub(crate) async fn run_schedule(mode: Mode, r: usize) -> anyhow::Result<Schedule> {
    let cluster = Cluster::start(
        5,
        Config {
            r,
            ..config(3, mode)
        },
    )
    .await?;
    let v0: VersionVector = cluster.put_ok(1, "k", "v0", &blind()).await?;
    cluster.wait_held(&[0, 1, 2], "k", &["v0"]).await?;
    cluster.partition(&[&[0, 3, 4], &[1, 2]]);
    let minority_put = cluster.put(0, "k", "a", &v0).await?;
    if mode == Mode::Ap && minority_put.ok() {
        // Stand-ins count toward W, so the write may be answered before node
        // 0's own replica has it, and a read asks the homes only: wait, or the
        // minority's read may miss its own write. (CP's refusal comes only
        // after every send answered, and its test checks node 0 as it is.)
        cluster.wait_held(&[0], "k", &["a"]).await?;
    }
    let majority_put = cluster.put(1, "k", "b", &v0).await?;
    let minority_get = cluster.get(0, "k").await?;
    let majority_get = cluster.get(1, "k").await?;
    Ok(Schedule {
        cluster,
        minority_put,
        majority_put,
        minority_get,
        majority_get,
    })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Cut off from a quorum, CP answers 503 with `Retry-After` within its
/// timeout, for reads and writes: with cut links before the timeout (every
/// replica has already failed), with stalled ones after the replica timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_cp_without_a_quorum_refuses_with_retry_after_within_its_timeout()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    let timeout = cluster.config.timeout;
    cluster.put_ok(0, "k", "v0", &blind()).await?;
    for (fault, apply) in [("cut", 0), ("stalled", 1)] {
        for j in [1, 2] {
            if apply == 0 {
                cluster.link(0, j).cut()
            } else {
                cluster.link(0, j).stall()
            }
        }
        // Cut links fail at once, and stalled ones are given up after the
        // replica timeout: either way every replica has failed before the
        // request's own timeout, so the refusal comes before it.
        let replica_timeout = cluster.config.replica_timeout;
        let earliest = if apply == 0 {
            Duration::ZERO
        } else {
            replica_timeout
        };
        for what in ["write", "read"] {
            let started = Instant::now();
            let reply = if what == "write" {
                cluster.put(0, "k", "v1", &blind()).await?
            } else {
                cluster.get(0, "k").await?
            };
            let took = started.elapsed();
            assert_eq!(
                reply.status, 503,
                "{fault} links, the {what}: {}",
                reply.text
            );
            assert_eq!(
                reply.retry_after.as_deref(),
                Some("1"),
                "{fault} links, the {what}: a 503 says when to try again"
            );
            assert!(
                took < timeout,
                "{fault} links, the {what}: refused after {took:?}, not before the timeout \
                 ({timeout:?}): the replicas' calls are bounded by the replica timeout \
                 ({replica_timeout:?}), so every one had failed by then"
            );
            assert!(
                took >= earliest,
                "{fault} links, the {what}: refused after {took:?}, before a stalled \
                 replica's call could time out ({replica_timeout:?})"
            );
        }
        cluster.heal();
    }
    Ok(())
}

/// Under the partition CP refuses the minority side and serves the majority;
/// after it heals, the write it acknowledged is in every read. Availability
/// is what it gave up: the minority's write was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_under_a_partition_cp_refuses_the_minority_and_keeps_every_acknowledged_write()
-> anyhow::Result<()> {
    let s = run_schedule(Mode::Cp, 2).await?;
    assert_eq!(
        s.minority_put.status, 503,
        "CP: the minority cannot write: {}",
        s.minority_put.text
    );
    assert!(
        s.majority_put.ok(),
        "CP: the majority can: {}",
        s.majority_put.text
    );
    assert_eq!(
        s.minority_get.status, 503,
        "CP: nor read: {}",
        s.minority_get.text
    );
    assert_eq!(
        sorted(s.majority_get.values()),
        vec!["b"],
        "CP: the majority reads its write"
    );
    assert!(
        s.cluster
            .held_values(0, "k")
            .await?
            .contains(&"a".to_string()),
        "CP: the refused write is unknown, not failed: node 0 stored it before the 503"
    );
    s.cluster.heal();
    let reply = s.cluster.get_at(1, "k", Some("all")).await?;
    assert_eq!(
        sorted(reply.values()),
        vec!["a", "b"],
        "CP, healed: a read that asks node 0 finds the refused a, a sibling of b \
         (neither saw the other): {}",
        reply.text
    );
    for via in [0, 1, 2] {
        let (values, _) = s.cluster.get_ok(via, "k").await?;
        assert!(
            values.contains(&"b".to_string()),
            "CP, healed: the acknowledged write b is in every read, here through node {via}: {values:?}"
        );
    }
    Ok(())
}

/// Under the same partition AP accepts both sides' writes (on stand-ins for
/// the homes it cannot reach) and each side reads its own: a read that misses
/// an acknowledged write, which CP never gives. After it heals the hints are
/// delivered, one read repairs the rest, and every home holds both siblings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_under_the_same_partition_ap_accepts_both_sides_and_converges_after_it_heals()
-> anyhow::Result<()> {
    // R = 3, so that the read after the heal asks every home, node 0 included.
    let s = run_schedule(Mode::Ap, 3).await?;
    assert!(
        s.minority_put.ok(),
        "AP: the minority writes too: {}",
        s.minority_put.text
    );
    let stand_ins: Vec<_> = s
        .minority_put
        .trace()
        .replies
        .into_iter()
        .filter(|r| r.counted && r.hint_for.is_some())
        .collect();
    assert!(
        !stand_ins.is_empty() && stand_ins.iter().all(|r| r.node >= 3),
        "AP: the minority's quorum counts stand-ins (nodes 3, 4) holding hints: {stand_ins:?}"
    );
    assert!(
        s.majority_put.ok(),
        "AP: and the majority: {}",
        s.majority_put.text
    );
    // Each unreachable home got a stand-in of its own, holding its hint.
    let mut hinted = Vec::new();
    for stand_in in [3, 4] {
        let cluster = &s.cluster;
        labkit::eventually(
            SETTLE,
            format!("node {stand_in} to hold one hint"),
            || async move { Ok(cluster.hints(stand_in).await?.len() == 1) },
        )
        .await?;
        hinted.extend(s.cluster.hints(stand_in).await?);
    }
    hinted.sort();
    assert_eq!(
        hinted,
        vec![(1, "k".to_string()), (2, "k".to_string())],
        "AP: one hint for each home the minority could not reach, one per stand-in"
    );
    assert_eq!(
        s.minority_get.values(),
        vec!["a"],
        "AP: the minority reads its own write, not the acknowledged b: stale, as CP never is"
    );
    assert_eq!(s.majority_get.values(), vec!["b"]);
    s.cluster.heal();
    // The hints reach nodes 1 and 2 by themselves, before any read repairs them.
    s.cluster.wait_held(&[1, 2], "k", &["a", "b"]).await?;
    for stand_in in [3, 4] {
        let cluster = &s.cluster;
        labkit::eventually(
            SETTLE,
            format!("node {stand_in} to hand over its hints"),
            || async move { Ok(cluster.hints(stand_in).await?.is_empty()) },
        )
        .await?;
    }
    // Node 0 missed b: a read that asks it repairs it.
    let reply = s.cluster.get(1, "k").await?;
    assert_eq!(
        sorted(reply.values()),
        vec!["a", "b"],
        "both siblings: {}",
        reply.text
    );
    for home in [0, 1, 2] {
        assert_eq!(
            s.cluster.held_values(home, "k").await?,
            vec!["a", "b"],
            "home {home} converged"
        );
    }
    Ok(())
}

/// A hint stays on its stand-in while its target cannot be reached, and is
/// delivered, then dropped, once it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_hint_waits_while_its_target_is_unreachable_and_is_delivered_when_it_returns()
-> anyhow::Result<()> {
    let cluster = Cluster::start(4, config(3, Mode::Ap)).await?;
    cluster.link(0, 2).cut();
    cluster.link(3, 2).cut();
    cluster.put_ok(0, "k", "v", &blind()).await?;
    labkit::eventually(SETTLE, "node 3 to hold a hint for node 2", || async {
        Ok(cluster.hints(3).await? == vec![(2, "k".to_string())])
    })
    .await?;
    // Let several delivery passes try the cut link (each is a connection the
    // proxy accepts and closes); the hint must survive them all.
    let tried = cluster.link(3, 2).connections_accepted();
    labkit::eventually(
        SETTLE,
        "node 3 to try delivering three more times",
        || async { Ok(cluster.link(3, 2).connections_accepted() >= tried + 3) },
    )
    .await?;
    assert_eq!(
        cluster.hints(3).await?,
        vec![(2, "k".to_string())],
        "kept while node 2 is unreachable"
    );
    assert!(cluster.held_values(2, "k").await?.is_empty());
    cluster.link(3, 2).restore();
    cluster.wait_held(&[2], "k", &["v"]).await?;
    labkit::eventually(SETTLE, "node 3 to drop the delivered hint", || async {
        Ok(cluster.hints(3).await?.is_empty())
    })
    .await?;
    Ok(())
}

/// A read that finds replicas behind writes the newest version back to every
/// one of them before answering, the slower one included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_read_repairs_every_replica_that_missed_a_write_before_it_answers()
-> anyhow::Result<()> {
    // W = 1, so a write can land on node 0 alone; R = N, so the read asks all.
    let cluster = Cluster::start(
        3,
        Config {
            r: 3,
            w: 1,
            ..config(3, Mode::Cp)
        },
    )
    .await?;
    cluster.link(0, 1).cut();
    cluster.link(0, 2).cut();
    cluster.put_ok(0, "k", "v", &blind()).await?;
    cluster.heal();
    for i in [1, 2] {
        assert!(
            cluster.held_values(i, "k").await?.is_empty(),
            "node {i} missed the write"
        );
    }
    // The repairs must cross slow links, one slower than the other: a repair
    // sent in the background, or only the first one awaited, would still be
    // on its way when the read answers.
    cluster.link(0, 1).slow(Duration::from_millis(30));
    cluster.link(0, 2).slow(Duration::from_millis(120));
    let reply = cluster.get(0, "k").await?;
    assert_eq!(reply.values(), vec!["v"], "{}", reply.text);
    for i in [1, 2] {
        assert_eq!(
            cluster.held_values(i, "k").await?,
            vec!["v"],
            "node {i} repaired by the time the read answered"
        );
    }
    Ok(())
}

/// An AP read answers after R replies, as a CP one does: "from whatever
/// replied" is for when fewer answer, not a reason to wait for every home.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_an_ap_read_answers_after_r_replies_without_waiting_for_a_stalled_home()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Ap)).await?;
    cluster.put_at(0, "k", "v", &blind(), Some("all")).await?;
    cluster.link(0, 2).stall();
    let reply = cluster.get(0, "k").await?;
    assert_eq!(reply.values(), vec!["v"], "{}", reply.text);
    let trace = reply.trace();
    let waited = waited_sorted(&trace);
    assert_eq!(waited, vec![0, 1], "R = 2: {trace:?}");
    assert!(
        !heard_from(&trace, 2),
        "answered before node 2's call timed out: {trace:?}"
    );
    Ok(())
}

/// AP still needs W stores, stand-ins included: a node cut off from every
/// home, with no other stand-in, refuses the write, and a read no replica
/// answers is refused too. A retry-after under a second is sent as one: the
/// header counts whole seconds, and 0 would invite a hot loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_ap_still_needs_w_stores_counting_stand_ins() -> anyhow::Result<()> {
    let soon = Config {
        retry_after: Duration::from_millis(300),
        ..config(3, Mode::Ap)
    };
    let cluster = Cluster::start(4, soon).await?;
    cluster.partition(&[&[3], &[0, 1, 2]]);
    let reply = cluster.put(3, "k", "v", &blind()).await?;
    assert_eq!(
        reply.status, 503,
        "node 3 alone is 1 of W = 2: {}",
        reply.text
    );
    assert_eq!(
        reply.retry_after.as_deref(),
        Some("1"),
        "300 ms is sent as 1"
    );
    let reply = cluster.get(3, "k").await?;
    assert_eq!(reply.status, 503, "no replica answered: {}", reply.text);
    assert_eq!(reply.retry_after.as_deref(), Some("1"));
    Ok(())
}

/// A home whose link stalls gets a stand-in too: after the replica timeout,
/// even when the write was answered before, and in time to count toward W
/// when it is needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_stalled_home_gets_a_stand_in_even_after_the_write_is_answered()
-> anyhow::Result<()> {
    let cluster = Cluster::start(4, config(3, Mode::Ap)).await?;
    cluster.link(0, 2).stall();
    cluster.link(3, 2).cut();
    cluster.put_ok(0, "a", "v", &blind()).await?;
    labkit::eventually(SETTLE, "node 3 to hold a hint for node 2", || async {
        Ok(cluster.hints(3).await? == vec![(2, "a".to_string())])
    })
    .await?;
    cluster.link(0, 1).stall();
    let reply = cluster.put(0, "b", "v", &blind()).await?;
    assert!(
        reply.ok(),
        "homes 1 and 2 stalled: node 0 and the stand-in make W: {}",
        reply.text
    );
    let counted: Vec<_> = reply
        .trace()
        .replies
        .into_iter()
        .filter(|r| r.counted)
        .collect();
    assert!(
        counted.iter().any(|r| r.node == 3 && r.hint_for.is_some()),
        "the stand-in counted: {counted:?}"
    );
    Ok(())
}

/// One unreachable target does not hold up a stand-in's hints for others:
/// each hint is tried on every pass, and those whose target answers are
/// delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_an_unreachable_target_does_not_hold_up_the_hints_for_others() -> anyhow::Result<()> {
    let cluster = Cluster::start(4, config(3, Mode::Ap)).await?;
    cluster.link(3, 1).cut();
    cluster.link(3, 2).cut();
    cluster.link(0, 1).cut();
    cluster.put_ok(0, "x", "for 1", &blind()).await?;
    labkit::eventually(SETTLE, "node 3 to hold a hint for node 1", || async {
        Ok(cluster.hints(3).await? == vec![(1, "x".to_string())])
    })
    .await?;
    cluster.link(0, 1).restore();
    cluster.link(0, 2).cut();
    cluster.put_ok(0, "y", "for 2", &blind()).await?;
    labkit::eventually(
        SETTLE,
        "node 3 to hold a hint for node 1, then one for node 2",
        || async {
            Ok(cluster.hints(3).await? == vec![(1, "x".to_string()), (2, "y".to_string())])
        },
    )
    .await?;
    cluster.link(3, 2).restore();
    cluster.wait_held(&[2], "y", &["for 2"]).await?;
    labkit::eventually(
        SETTLE,
        "node 3 to keep only the hint for node 1",
        || async { Ok(cluster.hints(3).await? == vec![(1, "x".to_string())]) },
    )
    .await?;
    Ok(())
}
