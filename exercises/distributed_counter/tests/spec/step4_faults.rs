//! Step 4 — faults and the checker: concurrent clients increment through
//! partitions and a crash; afterwards every node's value lies within what the
//! clients can prove, and clients presenting their session token never read
//! older state than they have seen.
//!
//! The check is the one Maelstrom applies to its counter workload: a client
//! cannot know what happened to a request that timed out or got a 5xx
//! (indeterminate), so the final value must lie between the sum of the
//! acknowledged deltas plus every negative indeterminate one, and the same plus
//! every positive indeterminate one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use distributed_counter::Mode;
use tokio::sync::RwLock;

use crate::support::{Cluster, Outcome, dominates, parse_token, token_value};

#[derive(Default)]
struct Ledger {
    acked: i64,
    indeterminate: Vec<i64>,
    failed: usize,
}

/// Six clients make 30 increments each against three nodes, while the test
/// partitions n1 from n2, crashes n3 and restarts it, then heals everything.
/// After two rounds every node agrees, and the value is within the bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step4_final_values_lie_within_the_checkers_bounds_after_partitions_and_a_crash()
-> anyhow::Result<()> {
    let cluster = Arc::new(RwLock::new(Cluster::start(3, Mode::Crdt).await?));
    let done = Arc::new(AtomicUsize::new(0));
    let ledger = Arc::new(tokio::sync::Mutex::new(Ledger::default()));

    let mut clients = tokio::task::JoinSet::new();
    for client in 0..6usize {
        let (cluster, done, ledger) = (cluster.clone(), done.clone(), ledger.clone());
        clients.spawn(async move {
            for op in 0..30usize {
                // Deterministic but varied: both signs, all nodes.
                let delta = if (client + op) % 4 == 0 {
                    -((op % 5) as i64 + 1)
                } else {
                    (op % 7) as i64 + 1
                };
                let node = (client * 7 + op) % 3;
                let (outcome, _) = cluster
                    .read()
                    .await
                    .increment(node, "total", delta, &format!("c{client}-{op}"))
                    .await;
                let mut ledger = ledger.lock().await;
                match outcome {
                    Outcome::Acked => ledger.acked += delta,
                    Outcome::Indeterminate => ledger.indeterminate.push(delta),
                    Outcome::Failed => ledger.failed += 1,
                }
                drop(ledger);
                done.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    // The fault schedule follows the clients' progress, not the clock.
    let at = |n: usize| {
        let done = done.clone();
        async move {
            labkit::eventually(
                Duration::from_secs(60),
                format!("{n} operations to complete"),
                || {
                    let done = done.clone();
                    async move { Ok(done.load(Ordering::SeqCst) >= n) }
                },
            )
            .await
        }
    };
    at(30).await?;
    cluster.read().await.partition(0, 1);
    cluster.read().await.round().await?;
    at(70).await?;
    cluster.write().await.kill(2);
    at(110).await?;
    cluster.write().await.restart(2).await?;
    cluster.read().await.round().await?;
    at(150).await?;
    cluster.read().await.heal();

    while let Some(finished) = labkit::within(
        Duration::from_secs(120),
        "the clients to finish",
        clients.join_next(),
    )
    .await?
    {
        finished?;
    }
    let cluster = cluster.read().await;
    cluster.round().await?;
    cluster.round().await?;
    let values = cluster.values("total").await?;
    let ledger = ledger.lock().await;
    let low = ledger.acked + ledger.indeterminate.iter().filter(|d| **d < 0).sum::<i64>();
    let high = ledger.acked + ledger.indeterminate.iter().filter(|d| **d > 0).sum::<i64>();
    assert!(
        values.iter().all(|v| *v == values[0]),
        "README step 3: all nodes agree after healing: {values:?}"
    );
    assert!(
        (low..=high).contains(&values[0]),
        "README step 4: the final value {} must lie in [{low}, {high}] \
         (acknowledged sum {}, {} indeterminate, {} refused)",
        values[0],
        ledger.acked,
        ledger.indeterminate.len(),
        ledger.failed
    );
    assert_eq!(ledger.failed, 0, "no valid increment should be refused");
    Ok(())
}

/// Read your writes across nodes: a client that incremented at n1 and then reads
/// at n2 — which cannot hear from n1 — with its token sees at least its own
/// increment. (Without the token, n2 would answer with its stale value.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_client_presenting_its_token_never_reads_older_state() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    cluster.increment(1, "cart", 1, "seed").await;
    cluster.round().await?;
    cluster.partition(0, 1);
    cluster.partition(0, 2);
    let (outcome, body) = cluster.increment(0, "cart", 5, "mine").await;
    assert_eq!(outcome, Outcome::Acked);
    let token = body
        .as_ref()
        .and_then(|b| b["token"].as_str())
        .expect("an acknowledgement carries a token")
        .to_string();

    let stale = cluster.value_at(1, "cart").await?;
    assert_eq!(
        stale, 1,
        "n2 has not heard of the increment (the test is meaningful)"
    );
    let response = cluster.read(1, "cart", Some(&token)).await?;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: serde_json::Value = serde_json::from_slice(&response.body)?;
    assert_eq!(
        body["value"].as_i64(),
        Some(6),
        "README step 4: read-your-writes across nodes, even partitioned"
    );
    let answered = parse_token(body["token"].as_str().unwrap_or_default());
    assert!(
        dominates(&answered, &parse_token(&token)),
        "the new token covers the one presented"
    );
    Ok(())
}

/// Monotonic reads: a client hopping between nodes, passing its latest token,
/// sees states that only grow, even though the nodes disagree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_reads_are_monotonic_for_a_client_switching_nodes() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    cluster.partition(0, 1);
    cluster.partition(0, 2);
    cluster.partition(1, 2);
    for (i, delta) in [(0, 10), (1, 20), (2, 30)] {
        cluster.increment(i, "m", delta, &format!("r{i}")).await;
    }
    let mut token: Option<String> = None;
    let mut seen = std::collections::BTreeMap::new();
    for node in [0, 1, 2, 0, 2, 1] {
        let response = cluster.read(node, "m", token.as_deref()).await?;
        assert_eq!(response.status, 200, "{}", response.text());
        let body: serde_json::Value = serde_json::from_slice(&response.body)?;
        let now = parse_token(body["token"].as_str().unwrap_or_default());
        assert!(
            dominates(&now, &seen),
            "README step 4: node {} answered an older state: {now:?} after {seen:?}",
            node + 1
        );
        seen = now;
        token = body["token"].as_str().map(str::to_string);
    }
    Ok(())
}

/// A session token that cannot be parsed is 400, not silently ignored — on a
/// read, and on an increment (which is then not applied).
#[tokio::test]
async fn step4_a_malformed_session_token_is_400() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    cluster.increment(0, "t", 1, "r").await;
    for token in ["garbage", "n1:5", "n1:x:0"] {
        let response = cluster.read(0, "t", Some(token)).await?;
        assert_eq!(response.status, 400, "token {token:?}: {}", response.text());
    }
    let (outcome, body) = cluster
        .increment_with_token(0, "t", 1, "with-garbage", Some("garbage"))
        .await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
        (Outcome::Failed, Some(400)),
        "README: an increment with a malformed X-Session-Token is 400 too: {body:?}"
    );
    assert_eq!(
        cluster.value_at(0, "t").await?,
        1,
        "the refused increment was not applied"
    );
    Ok(())
}

/// An increment that presents the client's token is answered with at least the
/// state that token shows, plus the increment. A client that read 20 at n2 and
/// then increments by 1 at a cut-off n1 (which holds 10 of its own) is told 31,
/// not n1's 11; and with the token it got back it reads 31 at n3, which has
/// never heard of the counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_an_increment_presenting_a_token_answers_at_least_the_state_the_client_saw()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, Mode::Crdt).await?;
    cluster.partition(0, 1);
    cluster.partition(0, 2);
    cluster.partition(1, 2);
    assert_eq!(
        cluster.increment(0, "seen", 10, "someone-at-n1").await.0,
        Outcome::Acked
    );
    assert_eq!(
        cluster.increment(1, "seen", 20, "someone-at-n2").await.0,
        Outcome::Acked
    );
    let response = cluster.read(1, "seen", None).await?;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: serde_json::Value = serde_json::from_slice(&response.body)?;
    let seen = body["token"]
        .as_str()
        .expect("every answer carries a token")
        .to_string();

    let (outcome, body) = cluster
        .increment_with_token(0, "seen", 1, "mine", Some(&seen))
        .await;
    assert_eq!(outcome, Outcome::Acked, "{body:?}");
    let body = body.unwrap_or_default();
    let token = body["token"]
        .as_str()
        .expect("an acknowledgement carries a token")
        .to_string();
    let answered = parse_token(&token);
    assert_eq!(
        body["value"].as_i64(),
        Some(31),
        "README step 4: an increment presenting a token answers with the token merged in \
         (n1's 10, the 20 the client saw at n2, its own 1)"
    );
    assert!(
        dominates(&answered, &parse_token(&seen)),
        "README step 4: the token answered to an increment covers the one presented: \
         {token:?} after {seen:?}"
    );
    assert_eq!(
        token_value(&answered),
        31,
        "the token answered is the state whose value was answered: {token:?}"
    );

    let response = cluster.read(2, "seen", Some(&token)).await?;
    assert_eq!(
        response.status,
        200,
        "README step 4: n3 has never heard of the counter, but the client's token has: {}",
        response.text()
    );
    let body: serde_json::Value = serde_json::from_slice(&response.body)?;
    assert_eq!(
        body["value"].as_i64(),
        Some(31),
        "README step 4: whichever node it asks, the client never reads older state than it was told"
    );
    Ok(())
}

/// A read with a token merges the token into the node's own state, rather than
/// answering whichever of the two is newer: when neither contains the other,
/// picking one loses increments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_read_with_a_token_merges_it_with_the_nodes_own_state() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, Mode::Crdt).await?;
    cluster.partition(0, 1);
    let (outcome, body) = cluster.increment(0, "merged", 5, "at-n1").await;
    assert_eq!(outcome, Outcome::Acked, "{body:?}");
    let token = body
        .as_ref()
        .and_then(|b| b["token"].as_str())
        .expect("an acknowledgement carries a token")
        .to_string();
    assert_eq!(
        cluster.increment(1, "merged", 3, "at-n2").await.0,
        Outcome::Acked
    );
    let response = cluster.read(1, "merged", Some(&token)).await?;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: serde_json::Value = serde_json::from_slice(&response.body)?;
    assert_eq!(
        body["value"].as_i64(),
        Some(8),
        "README step 4: n2 merges the token into its own state (5 from the token, 3 of its own)"
    );
    Ok(())
}

/// An empty session token has seen nothing: it does not make a counter nobody
/// incremented exist — that is still 404, as without a token.
#[tokio::test]
async fn step4_an_empty_session_token_on_an_unknown_counter_is_still_404() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "known", 1, "r").await.0,
        Outcome::Acked
    );
    let response = cluster.read(0, "never-seen", Some("")).await?;
    assert_eq!(
        response.status,
        404,
        "README: GET of a counter nobody incremented is 404, with an empty token too: {}",
        response.text()
    );
    Ok(())
}
