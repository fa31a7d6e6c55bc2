//! Step 1: replicate with quorums. A write is stored on all N and answered
//! after W; a read asks N, answers after R, newest wins; R + W > N meets the
//! latest acknowledged write, R = W = 1 can miss it.

use std::time::Duration;

use quorum_kv::{
    Causality, Config, Dot, Mode, Resolution, Version, VersionVector, majority, reconcile,
};

use crate::support::{Cluster, blind, config, heard_from, waited_sorted};

fn vv(pairs: &[(&str, u64)]) -> VersionVector {
    VersionVector::from_pairs(pairs.iter().copied())
}

/// A version: the write `dot` (slot, counter), made having seen `context`.
fn version(value: &str, dot: (&str, u64), context: &[(&str, u64)], ts_ms: u64) -> Version {
    Version {
        value: value.to_string(),
        dot: Dot {
            slot: dot.0.to_string(),
            counter: dot.1,
        },
        context: vv(context),
        ts_ms,
    }
}

/// Version vectors compare slot by slot over both vectors' slots, a missing
/// slot counting as zero: larger in one slot and smaller in another is
/// concurrent, never "after".
#[test]
fn step1_version_vectors_compare_slot_by_slot() {
    let cases = [
        (vv(&[]), vv(&[]), Causality::Equal),
        (vv(&[("a", 1)]), vv(&[]), Causality::After),
        (vv(&[]), vv(&[("a", 1)]), Causality::Before),
        (vv(&[("a", 1), ("b", 0)]), vv(&[("a", 1)]), Causality::Equal),
        (
            vv(&[("a", 2), ("b", 1)]),
            vv(&[("a", 1), ("b", 1)]),
            Causality::After,
        ),
        (
            vv(&[("a", 1), ("b", 1)]),
            vv(&[("a", 1), ("b", 2)]),
            Causality::Before,
        ),
        (
            vv(&[("a", 2)]),
            vv(&[("a", 1), ("b", 1)]),
            Causality::Concurrent,
        ),
        (
            vv(&[("a", 1), ("b", 1)]),
            vv(&[("a", 2)]),
            Causality::Concurrent,
        ),
        (vv(&[("b", 5)]), vv(&[("a", 5)]), Causality::Concurrent),
        (vv(&[("a", 1)]), vv(&[("a", 1), ("b", 0)]), Causality::Equal),
    ];
    for (a, b, want) in cases {
        assert_eq!(a.compare(&b), want, "{a:?} compared with {b:?}");
        assert_eq!(
            a.descends(&b),
            matches!(want, Causality::After | Causality::Equal),
            "{a:?} descends from {b:?}?"
        );
    }
    let merged = vv(&[("a", 1), ("b", 3)]).merge(&vv(&[("a", 2), ("c", 1)]));
    assert_eq!(
        merged,
        vv(&[("a", 2), ("b", 3), ("c", 1)]),
        "merge keeps each slot's larger counter"
    );
    assert_eq!(merged.get("z"), 0, "a missing slot is zero");
}

/// Under vectors a replica keeps every version nothing supersedes: one
/// whose client had seen it goes, whatever the stamps say; one written
/// without seeing the other stays (sorted by stamp), even from the same
/// coordinator; one dot is one version.
#[test]
fn step1_reconcile_keeps_every_version_nothing_supersedes() {
    let old = version("old", ("n0", 1), &[], 10);
    let new = version("new", ("n0", 2), &[("n0", 1)], 5);
    assert_eq!(
        new.clock(),
        vv(&[("n0", 2)]),
        "a clock is the context with the dot"
    );
    assert!(new.supersedes(&old) && !old.supersedes(&new));
    assert!(!new.supersedes(&new), "a version does not replace itself");
    assert_eq!(
        reconcile(vec![new.clone(), old.clone()], Resolution::Vectors),
        vec![new.clone()],
        "the version that saw the other wins, even with an older stamp"
    );
    assert_eq!(
        reconcile(vec![old.clone(), new.clone()], Resolution::Vectors),
        vec![new.clone()],
        "whatever the order the versions come in"
    );
    let blind = version("blind", ("n0", 3), &[], 30);
    assert_eq!(
        reconcile(vec![blind.clone(), old.clone()], Resolution::Vectors),
        vec![old.clone(), blind.clone()],
        "a later write by the same coordinator that had not seen the other keeps it"
    );
    let left = version("left", ("n0", 2), &[("n0", 1)], 20);
    let right = version("right", ("n1", 1), &[("n0", 1)], 30);
    assert_eq!(
        reconcile(
            vec![right.clone(), old.clone(), left.clone()],
            Resolution::Vectors
        ),
        vec![left.clone(), right.clone()],
        "concurrent versions are both kept, by stamp; what both saw goes"
    );
    assert_eq!(
        reconcile(vec![left.clone(), left.clone()], Resolution::Vectors),
        vec![left.clone()],
        "the same version twice is one version"
    );
    let merged = version("merged", ("n2", 1), &[("n0", 2), ("n1", 1)], 1);
    assert_eq!(
        reconcile(vec![left, right, merged.clone()], Resolution::Vectors),
        vec![merged],
        "a version that saw both siblings replaces them"
    );
    assert!(reconcile(Vec::new(), Resolution::Vectors).is_empty());
}

/// A majority is more than half: any two majorities of N share a replica.
#[test]
fn step1_a_majority_is_more_than_half() {
    for (n, want) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4)] {
        assert_eq!(majority(n), want, "majority of {n}");
    }
}

/// A configuration that cannot work is refused, each limit on both sides: N
/// from 1 to the nodes, R and W from 1 to N, timeouts above zero with the
/// replica's no longer than the request's, a retry-after above zero.
#[test]
fn step1_a_configuration_that_cannot_work_is_refused() {
    let base = Config::new(3);
    let refused = |c: Config, nodes: usize, why: &str| {
        assert!(c.validate(nodes).is_err(), "must be refused: {why} ({c:?})");
    };
    let accepted = |c: Config, nodes: usize, why: &str| {
        if let Err(e) = c.validate(nodes) {
            panic!("must be accepted: {why}: {e}");
        }
    };
    accepted(base.clone(), 3, "N = nodes");
    refused(base.clone(), 2, "N = 3 on 2 nodes");
    refused(Config::new(0), 3, "N = 0");
    accepted(Config::new(1), 1, "N = 1");
    refused(
        Config {
            r: 0,
            ..base.clone()
        },
        3,
        "R = 0",
    );
    accepted(
        Config {
            r: 1,
            ..base.clone()
        },
        3,
        "R = 1",
    );
    accepted(
        Config {
            r: 3,
            ..base.clone()
        },
        3,
        "R = N",
    );
    refused(
        Config {
            r: 4,
            ..base.clone()
        },
        5,
        "R = N + 1",
    );
    refused(
        Config {
            w: 0,
            ..base.clone()
        },
        3,
        "W = 0",
    );
    accepted(
        Config {
            w: 1,
            ..base.clone()
        },
        3,
        "W = 1",
    );
    accepted(
        Config {
            w: 3,
            ..base.clone()
        },
        3,
        "W = N",
    );
    refused(
        Config {
            w: 4,
            ..base.clone()
        },
        5,
        "W = N + 1",
    );
    refused(
        Config {
            timeout: Duration::ZERO,
            ..base.clone()
        },
        3,
        "a zero timeout",
    );
    refused(
        Config {
            replica_timeout: Duration::ZERO,
            ..base.clone()
        },
        3,
        "a zero replica timeout",
    );
    accepted(
        Config {
            replica_timeout: base.timeout,
            ..base.clone()
        },
        3,
        "a replica timeout equal to the request's",
    );
    refused(
        Config {
            replica_timeout: base.timeout + Duration::from_millis(1),
            ..base.clone()
        },
        3,
        "a replica timeout 1 ms past the request's",
    );
    refused(
        Config {
            retry_after: Duration::ZERO,
            ..base.clone()
        },
        3,
        "retry_after of zero",
    );
    accepted(
        Config {
            retry_after: Duration::from_millis(1),
            ..base.clone()
        },
        3,
        "retry_after of 1 ms",
    );
    assert!(base.is_strict(), "majority reads and writes: R + W > N");
    assert!(
        !Config {
            r: 1,
            w: 2,
            ..base.clone()
        }
        .is_strict(),
        "R + W = N is not strict"
    );
    assert!(
        Config {
            r: 2,
            w: 2,
            n: 3,
            ..base
        }
        .is_strict()
    );
}

/// What a write body spends on JSON around its value.
const BODY_OVERHEAD: usize = r#"{"value": ""}"#.len();

/// A write body of exactly `len` bytes: `{"value": "xx…x"}`.
fn body_of(len: usize) -> Vec<u8> {
    format!("{{\"value\": \"{}\"}}", "x".repeat(len - BODY_OVERHEAD)).into_bytes()
}

/// A write of `x` whose context names counter `n0` of node 0.
fn body_with_n0(n0: u64) -> Vec<u8> {
    format!("{{\"value\": \"x\", \"context\": {{\"n0\": {n0}}}}}").into_bytes()
}

/// A configuration that cannot work stops the node from starting: it never
/// serves with R = 0 or W past N.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_node_with_a_configuration_that_cannot_work_does_not_start() -> anyhow::Result<()> {
    for (what, bad) in [
        (
            "R = 0",
            Config {
                r: 0,
                ..config(3, Mode::Cp)
            },
        ),
        (
            "W = 4 of N = 3",
            Config {
                w: 4,
                ..config(3, Mode::Cp)
            },
        ),
    ] {
        let Err(error) = Cluster::start(3, bad).await else {
            panic!("{what}: the nodes started and serve");
        };
        let message = format!("{error:#}");
        assert!(
            message.contains("configuration refused"),
            "{what}: refused as a BadConfig, not for another reason: {message}"
        );
    }
    Ok(())
}

/// A write goes to every home at once: with the link to node 0 stalled, a
/// write and a read through node 1 answer from nodes 1 and 2 without waiting
/// on node 0 first, so node 0's failure is not among the replies they saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_request_goes_to_every_home_at_once() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    cluster.link(1, 0).stall();
    let reply = cluster.put(1, "k", "v", &blind()).await?;
    assert!(reply.ok(), "nodes 1 and 2 make W: {}", reply.text);
    let trace = reply.trace();
    let waited = waited_sorted(&trace);
    assert_eq!(waited, vec![1, 2], "the write: {trace:?}");
    assert!(
        !heard_from(&trace, 0),
        "the write answered before node 0's call timed out, so it saw no reply from 0: {trace:?}"
    );
    let reply = cluster.get(1, "k").await?;
    assert_eq!(reply.values(), vec!["v"], "{}", reply.text);
    let trace = reply.trace();
    assert!(!heard_from(&trace, 0), "the read too: {trace:?}");
    Ok(())
}

/// A write is answered after W stores and still reaches every replica; a read
/// on another node returns it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_write_reaches_every_replica_and_a_read_elsewhere_returns_it() -> anyhow::Result<()>
{
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    let reply = cluster.put(0, "k", "v1", &blind()).await?;
    assert!(
        reply.ok(),
        "the write answered {}: {}",
        reply.status,
        reply.text
    );
    let trace = reply.trace();
    assert_eq!(trace.needed, 2, "W is a majority of 3");
    assert_eq!(
        trace.waited_for().len(),
        2,
        "answered after W stores: {trace:?}"
    );
    cluster.wait_held(&[0, 1, 2], "k", &["v1"]).await?;
    let (values, _) = cluster.get_ok(2, "k").await?;
    assert_eq!(values, vec!["v1"]);
    let (values, _) = cluster.get_ok(1, "missing").await?;
    assert!(values.is_empty(), "a key never written reads as no value");
    Ok(())
}

/// W acknowledgements are needed, exactly: with one replica cut off a
/// majority write of 3 succeeds; with two, the coordinator's own store alone
/// is refused, yet kept (unknown, not failed); W = N with one cut off is
/// refused; a majority of 4 is 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_write_needs_w_stores_and_is_refused_one_short() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    cluster.link(0, 2).cut();
    let reply = cluster.put(0, "a", "v", &blind()).await?;
    assert!(reply.ok(), "2 of 3 stores is W: {}", reply.text);
    let waited = waited_sorted(&reply.trace());
    assert_eq!(
        waited,
        vec![0, 1],
        "the stores counted are the coordinator's and node 1's"
    );
    cluster.link(0, 1).cut();
    let reply = cluster.put(0, "b", "v", &blind()).await?;
    assert_eq!(
        reply.status, 503,
        "only the coordinator's own store is 1 of W = 2: {}",
        reply.text
    );
    assert_eq!(
        cluster.held_values(0, "b").await?,
        vec!["v"],
        "refused, yet stored where it landed: its outcome is unknown, not failed"
    );
    drop(cluster);

    let all = Config {
        w: 3,
        ..config(3, Mode::Cp)
    };
    let cluster = Cluster::start(3, all).await?;
    cluster.link(0, 2).cut();
    let reply = cluster.put(0, "c", "v", &blind()).await?;
    assert_eq!(
        reply.status, 503,
        "W = N with one replica cut off: {}",
        reply.text
    );
    drop(cluster);

    let cluster = Cluster::start(4, config(4, Mode::Cp)).await?;
    cluster.link(0, 3).cut();
    let reply = cluster.put(0, "d", "v", &blind()).await?;
    assert!(reply.ok(), "3 of 4 is a majority: {}", reply.text);
    cluster.link(0, 2).cut();
    let reply = cluster.put(0, "e", "v", &blind()).await?;
    assert_eq!(
        reply.status, 503,
        "2 of 4 is not a majority: {}",
        reply.text
    );
    Ok(())
}

/// With R + W > N a read meets the latest acknowledged write even when the
/// replica it asks first (its own) missed it and the others are slow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_with_r_plus_w_over_n_a_read_meets_the_latest_write() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    let first = cluster.put_ok(0, "k", "old", &blind()).await?;
    cluster.wait_held(&[0, 1, 2], "k", &["old"]).await?;
    cluster.link(0, 2).cut();
    cluster.put_ok(0, "k", "new", &first).await?;
    assert_eq!(
        cluster.held_values(2, "k").await?,
        vec!["old"],
        "node 2 missed the write"
    );
    // Node 2's own replica answers first; the ones that have the write are slow.
    cluster.link(2, 0).slow(Duration::from_millis(150));
    cluster.link(2, 1).slow(Duration::from_millis(150));
    let (values, _) = cluster.get_ok(2, "k").await?;
    assert_eq!(
        values,
        vec!["new"],
        "R + W > N: the read quorum meets the write quorum"
    );
    Ok(())
}

/// With R = W = 1 a stale read is reachable, and here it is: the write is
/// acknowledged by its coordinator alone and the reader never hears from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_with_r_and_w_of_one_a_stale_read_is_shown() -> anyhow::Result<()> {
    let ones = Config {
        r: 1,
        w: 1,
        ..config(3, Mode::Cp)
    };
    assert!(!ones.is_strict(), "R + W = 2 is not over N = 3");
    let cluster = Cluster::start(3, ones).await?;
    let first = cluster.put_ok(0, "k", "old", &blind()).await?;
    cluster.wait_held(&[0, 1, 2], "k", &["old"]).await?;
    cluster.link(0, 1).stall();
    cluster.link(0, 2).stall();
    cluster.put_ok(0, "k", "new", &first).await?;
    cluster.link(2, 0).stall();
    let (values, _) = cluster.get_ok(2, "k").await?;
    assert_eq!(
        values,
        vec!["old"],
        "the acknowledged write is missed: a stale read"
    );
    assert_eq!(cluster.held_values(0, "k").await?, vec!["new"]);
    Ok(())
}

/// A node killed after acknowledging a write starts again holding it: a
/// replica answers only once its store has committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_killed_node_starts_again_with_what_it_acknowledged() -> anyhow::Result<()> {
    let all = Config {
        w: 3,
        ..config(3, Mode::Cp)
    };
    let mut cluster = Cluster::start(3, all).await?;
    cluster.put_ok(0, "k", "kept", &blind()).await?;
    cluster.kill(1);
    let (values, _) = cluster.get_ok(0, "k").await?;
    assert_eq!(values, vec!["kept"], "R = 2: two of three still answer");
    cluster.restart(1).await?;
    assert_eq!(cluster.held_values(1, "k").await?, vec!["kept"]);
    Ok(())
}

/// Bad input is refused with a clear status and changes nothing: malformed
/// JSON, a missing value, a context that is not a vector (400), a context
/// counter of 2^53 (400; 2^53 - 1 is fine, and stamped one past), a body of
/// 64 KiB and a byte (413; 64 KiB is fine, and replicated), a key of 201
/// characters or with a space (400); a key of 200 characters is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_bad_input_is_refused_and_changes_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    cluster.put_ok(0, "k", "good", &blind()).await?;
    let rows: [(&str, Vec<u8>, u16); 5] = [
        ("malformed JSON", b"{\"value\": ".to_vec(), 400),
        ("no value", b"{\"context\": {}}".to_vec(), 400),
        (
            "a negative counter",
            b"{\"value\": \"x\", \"context\": {\"n0\": -1}}".to_vec(),
            400,
        ),
        (
            "a counter of 2^53, past what JSON clients hold exactly",
            body_with_n0(1 << 53),
            400,
        ),
        ("a body of 64 KiB and one byte", body_of(64 * 1024 + 1), 413),
    ];
    for (what, body, status) in rows {
        let reply = cluster.put_raw(0, "k", body).await?;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
    }
    let long = "a".repeat(201);
    let reply = cluster.put(0, &long, "x", &blind()).await?;
    assert_eq!(reply.status, 400, "a key of 201 characters: {}", reply.text);
    let reply = cluster.put(0, "a%20b", "x", &blind()).await?;
    assert_eq!(reply.status, 400, "a key with a space: {}", reply.text);
    let longest = "a".repeat(200);
    cluster.put_ok(0, &longest, "x", &blind()).await?;
    // The largest body, on another key: the node takes it, and so do the
    // replicas it sends it to (W = 2 needs one of them).
    let reply = cluster.put_raw(0, "max", body_of(64 * 1024)).await?;
    assert_eq!(
        reply.status, 200,
        "a body of exactly 64 KiB: {}",
        reply.text
    );
    let (values, _) = cluster.get_ok(1, "max").await?;
    assert_eq!(
        values.first().map(String::len),
        Some(64 * 1024 - BODY_OVERHEAD)
    );
    // The largest counter a context may carry, on another key: it would
    // supersede `good`. The write is stamped one past it, in that slot, and
    // the context handed back is then past what a client may send.
    let reply = cluster
        .put_raw(0, "big", body_with_n0((1 << 53) - 1))
        .await?;
    assert_eq!(reply.status, 200, "a counter of 2^53 - 1: {}", reply.text);
    let stamped = reply.context();
    assert_eq!(
        stamped.get("n0"),
        1 << 53,
        "the write's dot is one past the context's counter: {}",
        reply.text
    );
    let reply = cluster.put(0, "big", "z", &stamped).await?;
    assert_eq!(reply.status, 400, "a context of 2^53: {}", reply.text);
    cluster.put_ok(0, "big", "y", &blind()).await?;
    let (values, _) = cluster.get_ok(1, "k").await?;
    assert_eq!(values, vec!["good"], "nothing refused was written");
    Ok(())
}
