//! Step 2 — a node: increments over HTTP, durable in its own database,
//! applied once per request id; bad input refused; 503 when its database is
//! out of reach, with nothing acknowledged lost.

use std::time::{Duration, Instant};

use distributed_counter::Mode;

use crate::support::{Cluster, Outcome};

/// Increments are counted and read back, with the value and a session token.
#[tokio::test]
async fn step2_increments_are_counted_and_read_back() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    for (n, delta) in [5, 7, -2].into_iter().enumerate() {
        let (outcome, body) = cluster
            .increment(0, "visits", delta, &format!("req-{n}"))
            .await;
        assert_eq!(outcome, Outcome::Acked, "README step 2: {body:?}");
    }
    let response = cluster.read(0, "visits", None).await?;
    assert_eq!(response.status, 200, "{}", response.text());
    let body: serde_json::Value = serde_json::from_slice(&response.body)?;
    assert_eq!(
        (body["name"].as_str(), body["value"].as_i64()),
        (Some("visits"), Some(10))
    );
    assert!(
        body["token"].as_str().is_some_and(|t| !t.is_empty()),
        "every answer carries a session token: {body}"
    );
    Ok(())
}

/// Reading a counter nobody ever incremented is 404 problem+json.
#[tokio::test]
async fn step2_an_unknown_counter_is_404() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    cluster.increment(0, "known", 1, "r1").await;
    let response = cluster.read(0, "never-seen", None).await?;
    assert_eq!(response.status, 404, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    Ok(())
}

/// A retried increment with the same request id is applied once, and the retry
/// is still answered 200 (the client must be able to learn it succeeded).
#[tokio::test]
async fn step2_a_retried_increment_is_applied_once() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    for _ in 0..3 {
        let (outcome, _) = cluster.increment(0, "orders", 4, "same-request").await;
        assert_eq!(outcome, Outcome::Acked);
    }
    cluster.increment(0, "orders", 1, "another-request").await;
    assert_eq!(
        cluster.value_at(0, "orders").await?,
        5,
        "README step 2: one request id, one increment"
    );
    Ok(())
}

/// An acknowledged increment survives killing the node and starting it again
/// from its database; the request id is remembered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_an_acknowledged_increment_survives_a_crash_and_restart() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(1, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "likes", 42, "before-crash").await.0,
        Outcome::Acked
    );
    cluster.kill(0);
    cluster.restart(0).await?;
    assert_eq!(
        cluster.value_at(0, "likes").await?,
        42,
        "README step 2: acknowledged means durable"
    );
    assert_eq!(
        cluster.increment(0, "likes", 42, "before-crash").await.0,
        Outcome::Acked
    );
    assert_eq!(
        cluster.value_at(0, "likes").await?,
        42,
        "the retry after the restart is not applied again"
    );
    Ok(())
}

/// Bad input gets the right status and changes nothing: not JSON or no request
/// id → 400; a delta that is not a non-zero integer within ±10^12 → 422.
#[tokio::test]
async fn step2_bad_input_is_refused_with_the_right_status_and_changes_nothing() -> anyhow::Result<()>
{
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    cluster.increment(0, "c", 10, "seed").await;
    let cases: [(&str, &[u8], u16); 10] = [
        ("not JSON", b"{delta: 1", 400),
        ("no request id", br#"{"delta": 1}"#, 400),
        (
            "an empty request id",
            br#"{"delta": 1, "request_id": ""}"#,
            400,
        ),
        (
            "a string delta",
            br#"{"delta": "5", "request_id": "a"}"#,
            422,
        ),
        (
            "a fractional delta",
            br#"{"delta": 1.5, "request_id": "b"}"#,
            422,
        ),
        (
            "a delta beyond i64",
            br#"{"delta": 1e30, "request_id": "c"}"#,
            422,
        ),
        (
            "the smallest i64",
            br#"{"delta": -9223372036854775808, "request_id": "d"}"#,
            422,
        ),
        (
            "a delta above 10^12",
            br#"{"delta": 1000000000001, "request_id": "e"}"#,
            422,
        ),
        ("a zero delta", br#"{"delta": 0, "request_id": "f"}"#, 422),
        ("no delta", br#"{"request_id": "g"}"#, 422),
    ];
    for (what, body, status) in cases {
        let path = "/counters/c/increments";
        let response = labkit::http::request(
            cluster.front_addr(0),
            "POST",
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await?;
        assert_eq!(
            response.status,
            status,
            "README step 2: {what} must be {status}: {}",
            response.text()
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
    }
    assert_eq!(
        cluster.value_at(0, "c").await?,
        10,
        "refused requests change nothing"
    );
    Ok(())
}

/// A node whose database stops answering answers 503 within its timeout (it
/// never hangs, and never acknowledges what it could not store); once the
/// database is back, everything acknowledged is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_node_cut_off_from_its_database_answers_503_and_loses_nothing() -> anyhow::Result<()>
{
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    assert_eq!(
        cluster.increment(0, "stock", 7, "ok-1").await.0,
        Outcome::Acked
    );

    cluster.db_links[0].stall();
    let started = Instant::now();
    let (outcome, body) = cluster.increment(0, "stock", 5, "during-outage").await;
    assert!(
        started.elapsed() < Duration::from_millis(1_900),
        "README step 2: bound every database call (took {:?})",
        started.elapsed()
    );
    assert_eq!(
        outcome,
        Outcome::Indeterminate,
        "an unreachable store is a 5xx, not an acknowledgement"
    );
    assert_eq!(
        body.as_ref().and_then(|b| b["status"].as_u64()),
        Some(503),
        "503 problem+json: {body:?}"
    );
    let read = cluster.read(0, "stock", None).await?;
    assert_eq!(read.status, 503, "reads too: {}", read.text());

    cluster.db_links[0].restore();
    labkit::eventually(
        Duration::from_secs(10),
        "the node to reach its database again",
        || async { Ok(cluster.value_at(0, "stock").await.is_ok()) },
    )
    .await?;
    let value = cluster.value_at(0, "stock").await?;
    assert!(
        value == 7 || value == 12,
        "the acknowledged 7 is kept (the 503'd 5 may or may not have landed): {value}"
    );
    Ok(())
}

/// An increment that would overflow the counter is 422 and changes nothing —
/// the database must not be left holding a wrapped or partial value.
#[tokio::test]
async fn step2_an_increment_that_would_overflow_is_422_and_changes_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    // A counter already near the largest value a slot can hold.
    sqlx::query("INSERT INTO counter_slots (counter, replica, incs, decs) VALUES ('big', 'n1', 9223372036854775000, 0)")
        .execute(cluster.db(0).pool())
        .await?;
    let (outcome, body) = cluster
        .increment(0, "big", 1_000_000_000_000, "too-much")
        .await;
    assert_eq!(
        outcome,
        Outcome::Failed,
        "README step 2: an overflowing increment is refused: {body:?}"
    );
    assert_eq!(
        body.as_ref().and_then(|b| b["status"].as_u64()),
        Some(422),
        "{body:?}"
    );
    assert_eq!(
        cluster.value_at(0, "big").await?,
        9_223_372_036_854_775_000,
        "nothing changed"
    );
    let (retry, _) = cluster.increment(0, "big", 1, "too-much").await;
    assert_eq!(
        retry,
        Outcome::Acked,
        "the refused request id was not recorded, so a smaller retry applies"
    );
    Ok(())
}
