//! Step 4: PACELC's "else". With no partition at all, a request still trades
//! latency for consistency: `one` answers after the fastest replica, `all`
//! after the slowest. The coordinator's trace says which replies it waited for.

use std::time::{Duration, Instant};

use quorum_kv::{Config, Consistency, Mode};

use crate::support::{Cluster, blind, config, waited_sorted};

/// `one`, `quorum` and `all` wait for 1, a majority and N replies; only those
/// three lower-case names are levels.
#[test]
fn step4_a_consistency_level_names_how_many_replies_a_request_waits_for() {
    for (n, quorum) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)] {
        assert_eq!(Consistency::One.required(n), 1, "one of {n}");
        assert_eq!(Consistency::Quorum.required(n), quorum, "quorum of {n}");
        assert_eq!(Consistency::All.required(n), n, "all of {n}");
    }
    assert_eq!(Consistency::parse("one").ok(), Some(Consistency::One));
    assert_eq!(Consistency::parse("quorum").ok(), Some(Consistency::Quorum));
    assert_eq!(Consistency::parse("all").ok(), Some(Consistency::All));
    for bad in ["", "ONE", "All", "two", "quorum ", "any"] {
        let err = Consistency::parse(bad).expect_err(bad).to_string();
        assert!(
            ["one", "quorum", "all"].iter().all(|l| err.contains(l)),
            "{bad:?} is refused naming the three levels: {err}"
        );
    }
}

/// `one` answers from the fastest replica while the other two are stalled;
/// `all` waits for the slowest, whose reply comes no sooner than its link's delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_one_answers_after_the_fastest_replica_and_all_after_the_slowest()
-> anyhow::Result<()> {
    // Room for a slow link: each chunk of a request and of its reply is delayed.
    let patient = Config {
        timeout: Duration::from_secs(4),
        replica_timeout: Duration::from_secs(2),
        ..config(3, Mode::Cp)
    };
    let cluster = Cluster::start(3, patient.clone()).await?;
    cluster.put_at(0, "k", "v", &blind(), Some("all")).await?;
    cluster.link(0, 1).stall();
    cluster.link(0, 2).stall();
    let started = Instant::now();
    let reply = cluster.get_at(0, "k", Some("one")).await?;
    let took = started.elapsed();
    assert_eq!(reply.values(), vec!["v"], "{}", reply.text);
    // Nothing it does after its one reply (read repair included) waits on a
    // stalled replica: those calls end only at the replica timeout.
    assert!(
        took < patient.replica_timeout,
        "one answered after {took:?}, as late as a stalled replica's call times out ({:?})",
        patient.replica_timeout
    );
    let trace = reply.trace();
    assert_eq!(
        (trace.needed, trace.waited_for()),
        (1, vec![0]),
        "one waits for its own replica only: {trace:?}"
    );
    assert_eq!(
        trace.replies.len(),
        1,
        "and answers before the stalled replicas' calls time out: {trace:?}"
    );
    cluster.heal();

    let delay = Duration::from_millis(100);
    cluster.link(0, 1).slow(delay);
    cluster.link(0, 2).slow(2 * delay);
    let reply = cluster.get_at(0, "k", Some("all")).await?;
    assert_eq!(reply.values(), vec!["v"], "{}", reply.text);
    let trace = reply.trace();
    let waited = waited_sorted(&trace);
    assert_eq!(
        (trace.needed, waited),
        (3, vec![0, 1, 2]),
        "all waits for every replica: {trace:?}"
    );
    let slowest = trace
        .replies
        .iter()
        .find(|r| r.node == 2)
        .expect("node 2 replied");
    assert!(
        slowest.after_ms >= (2 * delay).as_millis() as u64,
        "node 2's reply cannot come before its link's delay: {trace:?}"
    );
    Ok(())
}

/// `quorum` answers with one replica stalled, after a majority and no more,
/// whatever R and W are; `all` with the same replica stalled is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_quorum_waits_for_a_majority_and_all_for_every_replica() -> anyhow::Result<()> {
    // R = W = 1 by default, so `quorum` must mean a majority, not the default.
    let ones = Config {
        r: 1,
        w: 1,
        ..config(3, Mode::Cp)
    };
    let cluster = Cluster::start(3, ones).await?;
    cluster.put_at(0, "k", "v", &blind(), Some("all")).await?;
    cluster.link(0, 2).stall();
    let reply = cluster.get_at(0, "k", Some("quorum")).await?;
    let waited = waited_sorted(&reply.trace());
    assert_eq!(
        waited,
        vec![0, 1],
        "quorum: a majority, not the stalled one: {}",
        reply.text
    );
    let reply = cluster
        .put_at(0, "k", "w", &blind(), Some("quorum"))
        .await?;
    let waited = waited_sorted(&reply.trace());
    assert_eq!(waited, vec![0, 1], "a quorum write too: {}", reply.text);
    let reply = cluster.get_at(0, "k", Some("all")).await?;
    assert_eq!(
        reply.status, 503,
        "all cannot answer without node 2: {}",
        reply.text
    );
    let reply = cluster.put_at(0, "k", "x", &blind(), Some("all")).await?;
    assert_eq!(reply.status, 503, "nor write: {}", reply.text);
    Ok(())
}

/// An unknown consistency is refused (400) before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_an_unknown_consistency_is_refused_and_writes_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, config(3, Mode::Cp)).await?;
    cluster.put_ok(0, "k", "v", &blind()).await?;
    let reply = cluster.put_at(0, "k", "w", &blind(), Some("two")).await?;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = cluster.get_at(0, "k", Some("ALL")).await?;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let (values, _) = cluster.get_ok(1, "k").await?;
    assert_eq!(values, vec!["v"], "the refused write wrote nothing");
    Ok(())
}
