//! Step 3: concurrent writes. Last-writer-wins drops one silently; version
//! vectors keep both as siblings for the client to merge.

use quorum_kv::{Config, Dot, Mode, Resolution, Version, VersionVector, reconcile};

use crate::support::{Cluster, blind, config};

/// Node 0's clock runs ten seconds fast.
const SKEWS: [i64; 3] = [10_000, 0, 0];

fn with(resolution: Resolution) -> Config {
    Config {
        resolution,
        ..config(3, Mode::Cp)
    }
}

/// Under last-writer-wins, a write acknowledged after another, from a node
/// whose clock is behind, is silently dropped: every replica keeps the earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_last_writer_wins_silently_drops_a_write_from_a_clock_behind() -> anyhow::Result<()> {
    let cluster = Cluster::start_with_skews(3, with(Resolution::Lww), &SKEWS).await?;
    cluster.put_ok(0, "k", "earlier", &blind()).await?;
    cluster.put_ok(1, "k", "later", &blind()).await?;
    let (values, _) = cluster.get_ok(2, "k").await?;
    assert_eq!(
        values,
        vec!["earlier"],
        "LWW: the later, acknowledged write is gone"
    );
    cluster.wait_held(&[0, 1, 2], "k", &["earlier"]).await?;
    Ok(())
}

/// Under version vectors the same two writes are siblings, returned together
/// with one context; a write carrying that context replaces both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_version_vectors_keep_concurrent_writes_as_siblings_until_a_merge()
-> anyhow::Result<()> {
    let cluster = Cluster::start_with_skews(3, with(Resolution::Vectors), &SKEWS).await?;
    cluster.put_ok(0, "k", "earlier", &blind()).await?;
    cluster.put_ok(1, "k", "later", &blind()).await?;
    let (values, context) = cluster.get_ok(2, "k").await?;
    assert_eq!(
        values,
        vec!["earlier", "later"],
        "both concurrent writes, as siblings"
    );
    cluster.put_ok(2, "k", "earlier+later", &context).await?;
    let (values, _) = cluster.get_ok(0, "k").await?;
    assert_eq!(
        values,
        vec!["earlier+later"],
        "the merged write saw both, and replaces them"
    );
    cluster
        .wait_held(&[0, 1, 2], "k", &["earlier+later"])
        .await?;
    Ok(())
}

/// A write with the latest context replaces what it saw, through any node;
/// one with a stale context keeps the version it never saw as a sibling: no
/// acknowledged write disappears unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_write_replaces_only_what_its_context_saw() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, with(Resolution::Vectors)).await?;
    let x = cluster.put_ok(0, "k", "x", &blind()).await?;
    let y = cluster.put_ok(1, "k", "y", &x).await?;
    let (values, context) = cluster.get_ok(2, "k").await?;
    assert_eq!(values, vec!["y"], "y saw x, so replaces it");
    assert_eq!(context, y, "the context of a single value is its clock");
    cluster.put_ok(2, "k", "z", &x).await?;
    let (values, _) = cluster.get_ok(0, "k").await?;
    assert_eq!(values, vec!["y", "z"], "z never saw y: both are kept");
    Ok(())
}

/// Two clients writing blind through the same node are both kept: the
/// second write's larger counter in that node's slot does not mean it saw
/// the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_two_blind_writes_through_one_node_are_both_kept() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, with(Resolution::Vectors)).await?;
    let first = cluster.put_ok(0, "k", "first", &blind()).await?;
    cluster.put_ok(0, "k", "second", &blind()).await?;
    let (values, context) = cluster.get_ok(1, "k").await?;
    assert_eq!(
        values,
        vec!["first", "second"],
        "neither client saw the other's write"
    );
    cluster.put_ok(0, "k", "third", &first).await?;
    let (values, _) = cluster.get_ok(2, "k").await?;
    assert_eq!(
        values,
        vec!["second", "third"],
        "a write that saw only the first replaces only the first"
    );
    cluster
        .put_ok(0, "k", "all", &context.merge(&first))
        .await?;
    cluster
        .wait_held(&[0, 1, 2], "k", &["all", "third"])
        .await?;
    Ok(())
}

/// Last-writer-wins keeps the version with the largest stamp, whatever its
/// vector and whatever order the versions arrive in.
#[test]
fn step3_last_writer_wins_keeps_the_largest_stamp() {
    let v = |value: &str, ts_ms: u64, dot: (&str, u64), context: &[(&str, u64)]| Version {
        value: value.to_string(),
        dot: Dot {
            slot: dot.0.to_string(),
            counter: dot.1,
        },
        context: VersionVector::from_pairs(context.iter().copied()),
        ts_ms,
    };
    let old_stamp_new_clock = v("newer clock", 100, ("n0", 9), &[("n0", 1)]);
    let new_stamp_old_clock = v("newer stamp", 101, ("n0", 1), &[]);
    let concurrent = v("concurrent", 50, ("n1", 1), &[]);
    for input in [
        vec![
            old_stamp_new_clock.clone(),
            new_stamp_old_clock.clone(),
            concurrent.clone(),
        ],
        vec![
            concurrent.clone(),
            new_stamp_old_clock.clone(),
            old_stamp_new_clock.clone(),
        ],
    ] {
        assert_eq!(
            reconcile(input, Resolution::Lww),
            vec![new_stamp_old_clock.clone()],
            "LWW keeps one version: the largest stamp"
        );
    }
    assert!(reconcile(Vec::new(), Resolution::Lww).is_empty());
}
