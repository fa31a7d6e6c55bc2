//! Step 5 — the other side of CAP: in linearizable mode every node changes one
//! row in one shared database; an acknowledged increment is visible everywhere at
//! once, and a node cut off from that database answers 503 rather than guess.

use std::sync::Arc;
use std::time::{Duration, Instant};

use distributed_counter::Mode;

use crate::support::{Cluster, Outcome};

/// An acknowledged increment at any node is seen by the very next read at every
/// node — no gossip, no rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_an_acknowledged_increment_is_visible_at_every_node_at_once() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Linearizable).await?;
    let mut expected = 0;
    for (n, node) in [0, 1, 2, 1, 0].into_iter().enumerate() {
        let (outcome, body) = cluster.increment(node, "seats", 3, &format!("r{n}")).await;
        assert_eq!(outcome, Outcome::Acked, "{body:?}");
        expected += 3;
        assert_eq!(
            cluster.values("seats").await?,
            vec![expected; 3],
            "README step 5: linearizable reads"
        );
    }
    Ok(())
}

/// A node whose link to the shared database is stalled answers 503 — reads and
/// increments, within its timeout — while the other nodes carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_node_cut_off_from_the_shared_store_answers_503() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Linearizable).await?;
    assert_eq!(
        cluster.increment(0, "tickets", 10, "seed").await.0,
        Outcome::Acked
    );
    cluster.shared_links[1].stall();

    let started = Instant::now();
    let read = cluster.read(1, "tickets", None).await?;
    assert_eq!(
        read.status,
        503,
        "README step 5: a node that cannot reach the store must not answer from memory: {}",
        read.text()
    );
    let (outcome, body) = cluster.increment(1, "tickets", 1, "cut-off").await;
    assert_eq!(outcome, Outcome::Indeterminate);
    assert_eq!(
        body.as_ref().and_then(|b| b["status"].as_u64()),
        Some(503),
        "{body:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "both answered within the timeout: {:?}",
        started.elapsed()
    );

    assert_eq!(
        cluster.increment(2, "tickets", 5, "elsewhere").await.0,
        Outcome::Acked,
        "other nodes carry on"
    );
    assert_eq!(cluster.value_at(0, "tickets").await?, 15);
    Ok(())
}

/// Once the link is back, the node serves the current value, including what was
/// acknowledged elsewhere while it was cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_after_the_partition_heals_the_node_serves_the_current_value() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Linearizable).await?;
    cluster.increment(0, "k", 1, "a").await;
    cluster.shared_links[1].cut();
    assert_eq!(cluster.read(1, "k", None).await?.status, 503);
    assert_eq!(cluster.increment(0, "k", 4, "b").await.0, Outcome::Acked);
    cluster.shared_links[1].restore();
    labkit::eventually(
        Duration::from_secs(10),
        "node 2 to reach the store again",
        || async { Ok(cluster.value_at(1, "k").await.is_ok()) },
    )
    .await?;
    assert_eq!(cluster.value_at(1, "k").await?, 5);
    Ok(())
}

/// Retries are applied once in linearizable mode too, whichever node they reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_retries_are_applied_once_in_linearizable_mode() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Linearizable).await?;
    for node in [0, 1, 0] {
        assert_eq!(
            cluster.increment(node, "r", 9, "the-one-request").await.0,
            Outcome::Acked
        );
    }
    assert_eq!(cluster.value_at(1, "r").await?, 9);
    Ok(())
}

/// Sixty concurrent increments spread over three nodes are all counted: each one
/// is a single atomic statement, never "read the value, then write value + delta".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step5_concurrent_increments_from_every_node_are_all_counted() -> anyhow::Result<()> {
    let cluster = std::sync::Arc::new(Cluster::start(3, Mode::Linearizable).await?);
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..60usize {
        let cluster = cluster.clone();
        clients.spawn(async move {
            cluster
                .increment(n % 3, "likes", 1, &format!("like-{n}"))
                .await
                .0
        });
    }
    let mut acked = 0;
    while let Some(outcome) = clients.join_next().await {
        if outcome? == Outcome::Acked {
            acked += 1;
        }
    }
    assert_eq!(acked, 60, "every increment should be acknowledged");
    assert_eq!(
        cluster.values("likes").await?,
        vec![60; 3],
        "README step 5: no lost updates"
    );
    Ok(())
}

/// The bad-input table holds in linearizable mode too: a counter nobody
/// incremented is 404, a malformed session token is 400 (the empty token this
/// mode answers is accepted back), and an increment that would overflow is 422
/// and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_the_bad_input_table_holds_in_linearizable_mode_too() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Linearizable).await?;
    let response = cluster.read(0, "never-seen", None).await?;
    assert_eq!(
        response.status,
        404,
        "README: GET of a counter nobody incremented is 404, in linearizable mode too: {}",
        response.text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );

    let (outcome, body) = cluster.increment(0, "big", 1, "seed").await;
    assert_eq!(outcome, Outcome::Acked, "{body:?}");
    let token = body
        .as_ref()
        .and_then(|b| b["token"].as_str())
        .expect("an acknowledgement carries a token")
        .to_string();
    let response = cluster.read(0, "big", Some(&token)).await?;
    assert_eq!(
        response.status,
        200,
        "the token this mode answered ({token:?}) is accepted back: {}",
        response.text()
    );
    for token in ["garbage", "n1:5", "n1:x:0"] {
        let response = cluster.read(0, "big", Some(token)).await?;
        assert_eq!(
            response.status,
            400,
            "README: a malformed X-Session-Token is 400 in either mode; token {token:?}: {}",
            response.text()
        );
    }

    // The shared row already near the largest value a bigint holds.
    sqlx::query("UPDATE shared_counters SET value = 9223372036854775000 WHERE counter = 'big'")
        .execute(cluster.shared_db()?.pool())
        .await?;
    let (outcome, body) = cluster
        .increment(0, "big", 1_000_000_000_000, "too-much")
        .await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
        (Outcome::Failed, Some(422)),
        "README: an increment that would overflow the counter is 422 /problems/invalid-delta: {body:?}"
    );
    assert_eq!(
        cluster.value_at(0, "big").await?,
        9_223_372_036_854_775_000,
        "README: the overflowing increment changes nothing"
    );
    Ok(())
}

/// Copies of one request sent at once to every node are all answered 200 and
/// applied once: the request id is claimed in the shared store by an insert
/// that conflicts, not looked up first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step5_concurrent_copies_of_one_request_at_every_node_are_applied_once()
-> anyhow::Result<()> {
    let cluster = Arc::new(Cluster::start(3, Mode::Linearizable).await?);
    // Widen the race: claiming a request id takes 100 ms, so the copies are
    // all in flight together.
    sqlx::raw_sql(
        "CREATE FUNCTION slow_claim() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_sleep(0.1); RETURN NEW; END $$;
         CREATE TRIGGER slow_claim BEFORE INSERT ON shared_applied_requests
         FOR EACH ROW EXECUTE FUNCTION slow_claim();",
    )
    .execute(cluster.shared_db()?.pool())
    .await?;
    let mut copies = tokio::task::JoinSet::new();
    for n in 0..9usize {
        let cluster = cluster.clone();
        copies.spawn(async move {
            cluster
                .increment(n % 3, "once", 1, "the-same-request")
                .await
        });
    }
    while let Some(copy) = labkit::within(
        Duration::from_secs(10),
        "the copies to be answered",
        copies.join_next(),
    )
    .await?
    {
        let (outcome, body) = copy?;
        assert_eq!(
            outcome,
            Outcome::Acked,
            "README step 5: every copy of a request is answered 200: {body:?}"
        );
    }
    assert_eq!(
        cluster.values("once").await?,
        vec![1; 3],
        "README step 5: request ids are deduplicated in the same transaction, \
         even when the copies arrive together"
    );
    Ok(())
}
