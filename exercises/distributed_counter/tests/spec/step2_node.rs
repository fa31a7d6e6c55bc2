//! Step 2 — a node: increments over HTTP, durable in its own database,
//! applied once per request id; bad input refused; 503 when its database is
//! out of reach, with nothing acknowledged lost.

use std::sync::Arc;
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
    assert!(
        response.text().contains("/problems/counter-not-found"),
        "README bad input: 404 /problems/counter-not-found: {}",
        response.text()
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
    let cases: [(&str, &[u8], u16, &str); 10] = [
        ("not JSON", b"{delta: 1", 400, "/problems/malformed-json"),
        (
            "no request id",
            br#"{"delta": 1}"#,
            400,
            "/problems/missing-request-id",
        ),
        (
            "an empty request id",
            br#"{"delta": 1, "request_id": ""}"#,
            400,
            "/problems/missing-request-id",
        ),
        (
            "a string delta",
            br#"{"delta": "5", "request_id": "a"}"#,
            422,
            "/problems/invalid-delta",
        ),
        (
            "a fractional delta",
            br#"{"delta": 1.5, "request_id": "b"}"#,
            422,
            "/problems/invalid-delta",
        ),
        (
            "a delta beyond i64",
            br#"{"delta": 1e30, "request_id": "c"}"#,
            422,
            "/problems/invalid-delta",
        ),
        (
            "the smallest i64",
            br#"{"delta": -9223372036854775808, "request_id": "d"}"#,
            422,
            "/problems/invalid-delta",
        ),
        (
            "a delta above 10^12",
            br#"{"delta": 1000000000001, "request_id": "e"}"#,
            422,
            "/problems/invalid-delta",
        ),
        (
            "a zero delta",
            br#"{"delta": 0, "request_id": "f"}"#,
            422,
            "/problems/invalid-delta",
        ),
        (
            "no delta",
            br#"{"request_id": "g"}"#,
            422,
            "/problems/invalid-delta",
        ),
    ];
    for (what, body, status, problem) in cases {
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
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| anyhow::anyhow!("{what}: the problem body is not JSON: {e}"))?;
        assert_eq!(
            body["type"], problem,
            "README bad input: {what} is {status} {problem}: {body}"
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

    // The total can overflow when no slot does: n1's slot reaches exactly
    // i64::MAX, and n2's 5 (learned from a peer) carry the sum past it.
    sqlx::query("INSERT INTO counter_slots (counter, replica, incs, decs) VALUES ('spread', 'n1', 9223372036854775797, 0), ('spread', 'n2', 5, 0)")
        .execute(cluster.db(0).pool())
        .await?;
    let (outcome, body) = cluster.increment(0, "spread", 10, "past-the-total").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
        (Outcome::Failed, Some(422)),
        "README: an increment that would overflow the counter's total (across replicas) is 422: {body:?}"
    );
    assert_eq!(
        cluster.value_at(0, "spread").await?,
        9_223_372_036_854_775_802,
        "README: the overflowing increment is not applied: it must be refused before the commit, not after"
    );
    Ok(())
}

/// The delta limit is inclusive and the same for both signs: exactly +10^12 and
/// −10^12 are applied; one more either way is 422 and changes nothing.
#[tokio::test]
async fn step2_a_delta_of_exactly_10_to_the_12_either_way_applies_and_one_more_is_422()
-> anyhow::Result<()> {
    const LIMIT: i64 = 1_000_000_000_000;
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    for (delta, id) in [(LIMIT, "up-to-the-limit"), (-LIMIT, "down-to-the-limit")] {
        let (outcome, body) = cluster.increment(0, "limits", delta, id).await;
        assert_eq!(
            outcome,
            Outcome::Acked,
            "README: a delta of {delta} is within ±10^12 and must be applied: {body:?}"
        );
    }
    assert_eq!(cluster.value_at(0, "limits").await?, 0, "+10^12 − 10^12");
    for (delta, id) in [
        (LIMIT + 1, "past-the-limit-up"),
        (-LIMIT - 1, "past-the-limit-down"),
    ] {
        let (outcome, body) = cluster.increment(0, "limits", delta, id).await;
        assert_eq!(
            (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
            (Outcome::Failed, Some(422)),
            "README: a delta of {delta} is beyond ±10^12 and must be refused 422: {body:?}"
        );
    }
    assert_eq!(
        cluster.value_at(0, "limits").await?,
        0,
        "README: a refused delta changes nothing"
    );
    Ok(())
}

/// An increment whose commit fails is not acknowledged; and since its request
/// id was recorded in the same transaction, rolled back with it, a retry of the
/// same request applies it (once).
#[tokio::test]
async fn step2_an_increment_whose_commit_fails_is_not_acknowledged_and_its_retry_applies()
-> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    // A deferred constraint trigger runs at COMMIT: every statement of the
    // increment succeeds, then the commit itself fails.
    sqlx::raw_sql(
        "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'injected failure at commit'; END $$;
         CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT OR UPDATE ON counter_slots
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();",
    )
    .execute(cluster.db(0).pool())
    .await?;
    let (outcome, body) = cluster.increment(0, "flaky", 6, "commit-fails").await;
    assert_eq!(
        outcome,
        Outcome::Indeterminate,
        "README step 2: an increment is answered 200 only once its transaction has committed, \
         and this commit failed: {body:?}"
    );

    sqlx::raw_sql("DROP TRIGGER fail_at_commit ON counter_slots")
        .execute(cluster.db(0).pool())
        .await?;
    let (outcome, body) = cluster.increment(0, "flaky", 6, "commit-fails").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["value"].as_i64())),
        (Outcome::Acked, Some(6)),
        "README step 2: the request id is recorded in the increment's own transaction, so the \
         retry of an increment that was rolled back applies it: {body:?}"
    );
    assert_eq!(cluster.value_at(0, "flaky").await?, 6, "applied once");
    Ok(())
}

/// Ten copies of one request sent at once are all answered 200 and applied
/// once: the request id is claimed by an insert that conflicts, not looked up
/// first (two lookups can both find nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_concurrent_copies_of_one_request_are_applied_once() -> anyhow::Result<()> {
    let cluster = Arc::new(Cluster::start(1, Mode::Crdt).await?);
    // Widen the race: claiming a request id takes 100 ms, so the copies are
    // all in flight together.
    sqlx::raw_sql(
        "CREATE FUNCTION slow_claim() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_sleep(0.1); RETURN NEW; END $$;
         CREATE TRIGGER slow_claim BEFORE INSERT ON applied_requests
         FOR EACH ROW EXECUTE FUNCTION slow_claim();",
    )
    .execute(cluster.db(0).pool())
    .await?;
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let cluster = cluster.clone();
        copies.spawn(async move { cluster.increment(0, "once", 1, "the-same-request").await });
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
            "README step 2: every copy of a request is answered 200: {body:?}"
        );
    }
    assert_eq!(
        cluster.value_at(0, "once").await?,
        1,
        "README step 2: one request id, one increment, even when its copies arrive together"
    );
    Ok(())
}

/// An increment is committed durably: the node never turns synchronous_commit
/// off, which acknowledges a commit before it is on disk (lost if Postgres
/// crashes, not only the node).
#[tokio::test]
async fn step2_an_increment_is_committed_with_synchronous_commit_on() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    // The database's own default is made `on`, whatever the server's is (the
    // node connects lazily, after this); a trigger records the setting in force
    // in every transaction that writes a slot.
    sqlx::raw_sql(
        "DO $$ BEGIN
           EXECUTE format('ALTER DATABASE %I SET synchronous_commit = on', current_database());
         END $$;
         CREATE TABLE commit_settings (setting text NOT NULL);
         CREATE FUNCTION record_commit_setting() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO commit_settings VALUES (current_setting('synchronous_commit'));
           RETURN NEW;
         END $$;
         CREATE TRIGGER record_commit_setting AFTER INSERT OR UPDATE ON counter_slots
         FOR EACH ROW EXECUTE FUNCTION record_commit_setting();",
    )
    .execute(cluster.db(0).pool())
    .await?;
    for (n, delta) in [3, -1].into_iter().enumerate() {
        let (outcome, body) = cluster
            .increment(0, "durable", delta, &format!("d{n}"))
            .await;
        assert_eq!(outcome, Outcome::Acked, "{body:?}");
    }
    let settings: Vec<String> = sqlx::query_scalar("SELECT setting FROM commit_settings")
        .fetch_all(cluster.db(0).pool())
        .await?;
    assert!(
        !settings.is_empty(),
        "the trigger saw the increments (the test is meaningful)"
    );
    assert!(
        settings.iter().all(|s| s != "off"),
        "README step 2: an increment is answered once durable, so its commit must wait for \
         the disk: synchronous_commit was {settings:?}"
    );
    Ok(())
}

/// A database that terminates the node's session mid-request (SQLSTATE 57P01,
/// what a restart or shutdown of Postgres does) is a 503, not a 500: the node is
/// unavailable, not broken; and once the database is back, it serves again.
#[tokio::test]
async fn step2_a_database_that_terminates_the_nodes_session_is_503() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    sqlx::raw_sql(
        "CREATE FUNCTION terminate_my_session() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
         CREATE TRIGGER terminate_my_session BEFORE INSERT ON applied_requests
         FOR EACH ROW EXECUTE FUNCTION terminate_my_session();",
    )
    .execute(cluster.db(0).pool())
    .await?;
    let (outcome, body) = cluster
        .increment(0, "restarting", 2, "during-shutdown")
        .await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
        (Outcome::Indeterminate, Some(503)),
        "README: a database that is shutting down is 503 /problems/unavailable: {body:?}"
    );

    sqlx::raw_sql("DROP TRIGGER terminate_my_session ON applied_requests")
        .execute(cluster.db(0).pool())
        .await?;
    let (outcome, body) = cluster
        .increment(0, "restarting", 2, "during-shutdown")
        .await;
    assert_eq!(
        outcome,
        Outcome::Acked,
        "the node reconnects once its database is back: {body:?}"
    );
    assert_eq!(cluster.value_at(0, "restarting").await?, 2);
    Ok(())
}
