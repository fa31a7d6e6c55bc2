//! Step 5: poison records are dead-lettered with their origin and the
//! partition moves on; a database outage is retried in place.

use anyhow::Context;
use kafka_at_least_once::{OrderEvent, Point};

use crate::support::{Lab, Record, Sent, events, expected_totals};

/// Produce `payloads` to partition 0 (the i-th keyed `raw-<i>`, `None` a
/// tombstone), run one consumer until every one of `good` is applied and the
/// partition is committed to its end, and return where each record landed
/// and the dead letters.
async fn dead_letters_after_a_run(
    lab: &Lab,
    payloads: &[Option<Vec<u8>>],
    good: &[OrderEvent],
) -> anyhow::Result<(Vec<Sent>, Vec<Record>)> {
    let sent = lab.produce_records(0, payloads).await?;
    let mut consumer = lab.start("only").await?;
    lab.until_applied(good, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await?;
    let letters = lab.read_topic(&lab.dead_letters, 1).await?;
    consumer.stop().await?;
    Ok((sent, letters))
}

/// `letter` says where its record came from (`at`) and what was wrong with it.
fn assert_origin(lab: &Lab, letter: &Record, at: Sent) {
    let header = |name: &str| letter.headers.get(name).cloned().unwrap_or_default();
    assert_eq!(
        header("lab.original.topic"),
        lab.topic,
        "lab.original.topic header (README step 5)"
    );
    assert_eq!(
        header("lab.original.partition"),
        at.partition.to_string(),
        "lab.original.partition header (README step 5)"
    );
    assert_eq!(
        header("lab.original.offset"),
        at.offset.to_string(),
        "lab.original.offset header (README step 5)"
    );
    assert!(
        !header("lab.error").is_empty(),
        "the lab.error header must say what was wrong (README step 5)"
    );
}

/// Records that do not decode go to the dead-letter topic with their original
/// bytes, their topic, partition and offset, and the error, in headers; the
/// valid records around them are applied and the partition moves on. Poison
/// with a payload is every such row of the README's table: not JSON, the wrong
/// shape, a negative amount, an amount of exactly 0, an empty id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_records_that_do_not_decode_are_dead_lettered_with_their_bytes_and_origin()
-> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let good = events("e", 4, 2);
    let poison: Vec<Vec<u8>> = vec![
        b"not json at all \xff".to_vec(),
        br#"{"event_id":"half","order_id":"o"}"#.to_vec(),
        br#"{"event_id":"neg","order_id":"o","customer":"c","amount_cents":-5,"kind":"placed"}"#
            .to_vec(),
        br#"{"event_id":"zero","order_id":"o","customer":"c","amount_cents":0,"kind":"placed"}"#
            .to_vec(),
        br#"{"event_id":"","order_id":"o","customer":"c","amount_cents":5,"kind":"placed"}"#
            .to_vec(),
    ];
    // A valid record last, so that this test is about the letters, not about
    // committing past a poison record at the end (a test of its own).
    let payloads = vec![
        Some(good[0].encode()),
        Some(poison[0].clone()),
        Some(good[1].encode()),
        Some(poison[1].clone()),
        Some(good[2].encode()),
        Some(poison[2].clone()),
        Some(poison[3].clone()),
        Some(poison[4].clone()),
        Some(good[3].encode()),
    ];
    let poison_at = [1, 3, 5, 6, 7];
    let (sent, letters) = dead_letters_after_a_run(&lab, &payloads, &good).await?;
    assert_eq!(
        lab.totals().await?,
        expected_totals(&good),
        "customer totals"
    );
    assert_eq!(
        letters.len(),
        poison.len(),
        "expected one dead letter per poison record, found {}: {letters:?} (README step 5: \
         produce poison to the dead-letter topic, never skip it)",
        letters.len()
    );
    for (letter, (bytes, i)) in letters.iter().zip(poison.iter().zip(poison_at)) {
        assert_eq!(
            letter.payload.as_deref(),
            Some(bytes.as_slice()),
            "the dead letter of offset {} carries the original bytes (README step 5)",
            sent[i].offset
        );
        assert_origin(&lab, letter, sent[i]);
    }
    Ok(())
}

/// A tombstone (a record with no payload at all) is poison too, not a delete
/// marker to skip: the README's table says `PoisonReason::Empty`, dead-lettered
/// like the rest, and the letter has no payload either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_tombstone_is_dead_lettered_without_a_payload() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let good = events("e", 2, 2);
    let payloads = vec![Some(good[0].encode()), None, Some(good[1].encode())];
    let (sent, letters) = dead_letters_after_a_run(&lab, &payloads, &good).await?;
    assert_eq!(
        letters.len(),
        1,
        "expected one dead letter, for the tombstone at offset {}, found {}: {letters:?} \
         (README bad input: a record with no payload is PoisonReason::Empty, dead-lettered)",
        sent[1].offset,
        letters.len()
    );
    assert_eq!(
        letters[0].payload, None,
        "a tombstone's dead letter has no payload either (README bad input)"
    );
    assert_origin(&lab, &letters[0], sent[1]);
    Ok(())
}

/// A dead letter keeps the original record's key, so whoever replays it lands
/// it on its order's partition again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_dead_letter_keeps_the_original_key() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let good = events("e", 2, 2);
    let payloads = vec![
        Some(good[0].encode()),
        Some(b"not an event".to_vec()),
        Some(good[1].encode()),
    ];
    let (_, letters) = dead_letters_after_a_run(&lab, &payloads, &good).await?;
    assert_eq!(
        letters.len(),
        1,
        "expected one dead letter, for the record keyed raw-1, found {}: {letters:?}",
        letters.len()
    );
    assert_eq!(
        letters[0].key.as_deref(),
        Some(b"raw-1".as_slice()),
        "a dead letter keeps the original key (README step 5: the original bytes and key)"
    );
    Ok(())
}

/// A poison record's offset is stored once its dead letter is acknowledged,
/// like an applied record's: a poison record at the very end of a partition,
/// with no applied record after it to carry the commit past it, is committed
/// too (else every restart or rebalance dead-letters it again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_poison_record_at_the_end_of_a_partition_is_committed() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let good = events("e", 1, 1);
    let payloads = vec![Some(good[0].encode()), Some(b"not an event".to_vec())];
    let sent = lab.produce_records(0, &payloads).await?;
    let mut consumer = lab.start("only").await?;
    lab.until_applied(&good, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await.with_context(|| {
        format!(
            "the poison record at offset {} was the last of its partition: store its offset once \
             its dead letter is acknowledged, not only after an effect (README step 5)",
            sent[1].offset
        )
    })?;
    consumer.stop().await
}

/// Retries during an outage, through a proxy that refuses every connection:
/// the pause starts at 50 ms and doubles up to `retry_max` = 200 ms. Returns how
/// many connections the cut link accepted in the 3 s from 1.5 s after the
/// failing event was received (one or two per attempt), once the consumer has
/// recovered and applied everything after the link came back. With pauses of
/// 50, 100, then 200 ms, that window holds about 15 attempts.
async fn attempts_in_three_seconds_of_an_outage() -> anyhow::Result<u64> {
    let lab = Lab::new(1).await?;
    let (proxy, pool) = lab
        .pool_through_a_proxy(1, std::time::Duration::from_secs(1))
        .await?;
    let events = events("e", 3, 3);
    let mut config = lab.config();
    config.retry_initial = std::time::Duration::from_millis(50);
    config.retry_max = std::time::Duration::from_millis(200);
    let mut consumer = lab.start_configured("only", pool, config)?;
    lab.produce_to(0, &events[..1]).await?;
    lab.until_applied(&events[..1], &mut [&mut consumer])
        .await?;

    proxy.cut();
    lab.produce_to(0, &events[1..]).await?;
    let failing = events[1].event_id.clone();
    lab.until_received(Some(&failing)).await?;
    // Let the pause reach its cap (50, 100, 200 ms), then count a 3 s window.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let before = proxy.connections_accepted();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let attempts = proxy.connections_accepted() - before;
    consumer.check_alive().await?;

    proxy.restore();
    lab.until_applied(&events, &mut [&mut consumer]).await?;
    consumer.stop().await?;
    Ok(attempts)
}

/// Retries during an outage are spaced by a doubling pause, not a hot loop
/// hammering a database that is down. The bound (at most 60 connections in
/// the 3 s window, about 15 attempts expected) leaves room for a slow machine;
/// a hot loop makes thousands, a pause stuck at 50 ms 60 to 120.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_retries_during_an_outage_are_spaced_by_a_doubling_pause() -> anyhow::Result<()> {
    let attempts = attempts_in_three_seconds_of_an_outage().await?;
    assert!(
        attempts <= 60,
        "{attempts} attempts in 3 s with retry_max = 200 ms: the pause is not doubling up to \
         retry_max (README step 5) — a consumer that hammers a database that is down makes the \
         outage worse"
    );
    Ok(())
}

/// The retry pause stops doubling at `retry_max`, so a consumer notices soon
/// that the database is back. The bound (at least 8 connections in the 3 s
/// window, about 15 attempts expected) leaves room for a slow machine; a pause
/// that doubles without a cap (400, 800, 1600 ms …) makes 2 to 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_the_retry_pause_stops_doubling_at_retry_max() -> anyhow::Result<()> {
    let attempts = attempts_in_three_seconds_of_an_outage().await?;
    assert!(
        attempts >= 8,
        "{attempts} attempts in 3 s with retry_max = 200 ms: the pause grew past retry_max \
         (README step 5: double it, up to retry_max), so recovery is noticed late"
    );
    Ok(())
}

/// A dead letter counts only once the broker acknowledged it. While the
/// dead-letter topic cannot take it (here: it does not exist yet), the poison
/// record is retried in place — the partition waits, nothing after it is
/// applied or committed; once the topic exists the letter lands and the
/// partition moves on. A producer's `send` that is not awaited stores the
/// offset of a record that is nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_dead_letter_is_done_only_once_the_broker_acknowledged_it() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let good = events("e", 2, 2);
    let payloads = vec![good[0].encode(), b"poison".to_vec(), good[1].encode()];
    let sent = lab.produce_raw(0, &payloads).await?;
    let mut config = lab.config();
    config.dead_letter_topic = lab.kafka.topic_name("dead-letters-later");
    let pool = lab.db.new_pool(4).await?;
    let mut consumer = lab.start_configured("only", pool, config.clone())?;
    lab.until_applied(&good[..1], &mut [&mut consumer]).await?;
    lab.until_received(None).await?;
    // Only a consumer that does not wait for the acknowledgement is fast enough
    // to be caught by this; a right one just costs the test the wait.
    tokio::time::sleep(crate::support::GRACE).await;
    consumer.check_alive().await?;
    let dead_lettered = lab
        .recorder
        .points()
        .iter()
        .any(|(_, p)| matches!(p, Point::DeadLettered { .. }));
    assert!(
        !dead_lettered,
        "Point::DeadLettered was reached although the dead-letter topic does not exist: the \
         letter was never acknowledged (README step 5: store its offset only after the dead \
         letter is acknowledged)"
    );
    let committed = lab.committed().await?[0];
    assert!(
        committed.is_none_or(|c| c <= sent[1].offset),
        "the group committed {committed:?}, past the poison record at offset {} whose dead \
         letter was never delivered",
        sent[1].offset
    );
    assert!(
        !lab.applications().await?.contains_key(&good[1].event_id),
        "the record after the poison was applied before the poison was dead-lettered"
    );

    lab.kafka.create_topic("dead-letters-later", 1).await?;
    lab.until_applied(&good, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await?;
    let letters = lab.read_topic(&config.dead_letter_topic, 1).await?;
    assert!(
        letters
            .iter()
            .any(|l| l.payload.as_deref() == Some(b"poison".as_slice())),
        "once the topic exists the dead letter lands there: {letters:?}"
    );
    consumer.stop().await
}

/// A database outage longer than any retry budget loses nothing: with pauses of
/// 20 ms and a pool that gives up on a connection after 100 ms, the consumer
/// has failed dozens of times after 3 s, and it still has not moved past the
/// failing event. (Giving up after N attempts, as some frameworks do by
/// default, turns a long outage into lost events.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_long_database_outage_is_retried_for_as_long_as_it_lasts() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let (proxy, pool) = lab
        .pool_through_a_proxy(2, std::time::Duration::from_millis(100))
        .await?;
    let events = events("e", 6, 3);
    let mut config = lab.config();
    config.retry_initial = std::time::Duration::from_millis(20);
    config.retry_max = std::time::Duration::from_millis(20);
    let mut consumer = lab.start_configured("only", pool, config)?;
    lab.produce_to(0, &events[..2]).await?;
    lab.until_applied(&events[..2], &mut [&mut consumer])
        .await?;

    proxy.cut();
    let sent = lab.produce_to(0, &events[2..]).await?;
    let failing = events[2].event_id.clone();
    lab.until_received(Some(&failing)).await?;
    // The one wait on nothing: only a consumer that gives up is fast enough to
    // be caught by it; a right one just costs the test 3 s.
    tokio::time::sleep(2 * crate::support::GRACE).await;
    consumer.check_alive().await?;
    let committed = lab.committed().await?[0];
    assert!(
        committed.is_none_or(|c| c <= sent[0].offset),
        "after 3 s of outage the group committed {committed:?}, past offset {} whose effect has \
         not happened: a consumer that gives up on a record loses it (README step 5: keep trying)",
        sent[0].offset
    );
    let applied = lab.applications().await?;
    assert!(
        !applied.contains_key(&events[3].event_id),
        "an event after the failing one was applied during the outage: {applied:?}"
    );

    proxy.restore();
    lab.until_applied(&events, &mut [&mut consumer]).await?;
    assert_eq!(
        lab.totals().await?,
        expected_totals(&events),
        "customer totals"
    );
    consumer.stop().await
}

/// With Postgres unreachable, the consumer keeps retrying the failing event in
/// place (it neither dies nor skips it), commits nothing past it, and applies
/// everything exactly once when the database comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_database_outage_is_retried_without_moving_past_the_failing_event()
-> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let (proxy, pool) = lab
        .pool_through_a_proxy(2, std::time::Duration::from_secs(1))
        .await?;
    let events = events("e", 8, 3);
    lab.produce_to(0, &events[..3]).await?;
    let mut consumer = lab.start_on("only", pool)?;
    lab.until_applied(&events[..3], &mut [&mut consumer])
        .await?;

    proxy.cut();
    let sent = lab.produce_to(0, &events[3..]).await?;
    let failing = events[3].event_id.clone();
    let before = proxy.connections_accepted();
    labkit::eventually(
        crate::support::SETTLE,
        "the consumer to retry the failing event",
        || {
            let received = lab.recorder.points().iter().any(
                |(_, p)| matches!(p, Point::Received { event_id: Some(id), .. } if *id == failing),
            );
            let attempts = proxy.connections_accepted() - before;
            async move { Ok(received && attempts >= 3) }
        },
    )
    .await?;
    consumer.check_alive().await?;
    let committed = lab.committed().await?[0];
    assert!(
        committed.is_none_or(|c| c <= sent[0].offset),
        "during the outage the group committed {committed:?}, past offset {} whose effect has not \
         happened: retry the failing event in place, do not move on (README step 5)",
        sent[0].offset
    );

    proxy.restore();
    lab.until_applied(&events, &mut [&mut consumer]).await?;
    let applied = lab.applications().await?;
    assert!(
        applied.values().all(|n| *n == 1),
        "applications: {applied:?}"
    );
    assert_eq!(
        lab.totals().await?,
        expected_totals(&events),
        "customer totals"
    );
    consumer.stop().await
}
