//! Step 2, hidden — the answers to a retry and to an overflowing decrement.

use distributed_counter::Mode;

use crate::support::{Cluster, Outcome, parse_token, token_value};

/// A retried increment is answered 200 with the counter's current value and a
/// token for it — what was applied since the first attempt included, the
/// retried delta counted once — not an empty or stale answer.
#[tokio::test]
async fn step2_a_retry_is_answered_with_the_current_value_and_its_token() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    let (outcome, body) = cluster.increment(0, "orders", 4, "first").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["value"].as_i64())),
        (Outcome::Acked, Some(4)),
        "{body:?}"
    );
    let (outcome, body) = cluster.increment(0, "orders", -1, "second").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["value"].as_i64())),
        (Outcome::Acked, Some(3)),
        "{body:?}"
    );

    let (outcome, body) = cluster.increment(0, "orders", 4, "first").await;
    assert_eq!(outcome, Outcome::Acked, "a retry is answered 200: {body:?}");
    let body = body.unwrap_or_default();
    assert_eq!(
        body["value"].as_i64(),
        Some(3),
        "README bad input: the same request_id again is 200 with the current value \
         (4 − 1, the 4 once): {body}"
    );
    let token = body["token"]
        .as_str()
        .expect("a retry's answer carries a token")
        .to_string();
    assert_eq!(
        token_value(&parse_token(&token)),
        3,
        "the token answered to a retry is the current state, so the client's next read \
         starts from it: {token:?}"
    );
    assert_eq!(
        cluster.value_at(0, "orders").await?,
        3,
        "the retry was not applied again"
    );
    Ok(())
}

/// A decrement that would overflow the counter — its own slot, or the total of
/// the decrements across replicas — is 422 and changes nothing, like an
/// increment that would; the refused request id is not recorded.
#[tokio::test]
async fn step2_a_decrement_that_would_overflow_is_422_and_changes_nothing() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, Mode::Crdt).await?;
    // A decrement slot already near the largest value a bigint holds.
    sqlx::query("INSERT INTO counter_slots (counter, replica, incs, decs) VALUES ('deep', 'n1', 0, 9223372036854775000)")
        .execute(cluster.db(0).pool())
        .await?;
    let (outcome, body) = cluster
        .increment(0, "deep", -1_000_000_000_000, "too-deep")
        .await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
        (Outcome::Failed, Some(422)),
        "README bad input: a decrement that would overflow its slot is 422: {body:?}"
    );
    assert_eq!(
        body.as_ref().and_then(|b| b["type"].as_str()),
        Some("/problems/invalid-delta"),
        "{body:?}"
    );
    assert_eq!(
        cluster.value_at(0, "deep").await?,
        -9_223_372_036_854_775_000,
        "nothing changed"
    );

    // No slot overflows: n1's decrements reach exactly i64::MAX, and n2's 5
    // (learned from a peer) carry the decrements' total past it.
    sqlx::query("INSERT INTO counter_slots (counter, replica, incs, decs) VALUES ('spread', 'n1', 0, 9223372036854775797), ('spread', 'n2', 0, 5)")
        .execute(cluster.db(0).pool())
        .await?;
    let (outcome, body) = cluster.increment(0, "spread", -10, "past-the-total").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["status"].as_u64())),
        (Outcome::Failed, Some(422)),
        "README bad input: a decrement that would overflow the counter's total (its decrements \
         across replicas) is 422, as an increment would be: {body:?}"
    );
    assert_eq!(
        body.as_ref().and_then(|b| b["type"].as_str()),
        Some("/problems/invalid-delta"),
        "{body:?}"
    );
    assert_eq!(
        cluster.value_at(0, "spread").await?,
        -9_223_372_036_854_775_802,
        "README: the overflowing decrement is not applied: refused before the commit"
    );
    let (outcome, body) = cluster.increment(0, "spread", -1, "past-the-total").await;
    assert_eq!(
        (outcome, body.as_ref().and_then(|b| b["value"].as_i64())),
        (Outcome::Acked, Some(-9_223_372_036_854_775_803)),
        "the refused request id was not recorded, so a retry that fits applies: {body:?}"
    );
    Ok(())
}
