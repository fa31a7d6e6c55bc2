//! Step 5: poison records are dead-lettered with their origin and the
//! partition moves on; a database outage is retried in place.

use kafka_at_least_once::Point;
use labkit::FaultProxy;

use crate::support::{Lab, events, expected_totals};

/// Records that are not valid events go to the dead-letter topic with their
/// original bytes and key, their topic, partition and offset, and the error,
/// in headers; the valid records around them are applied and the partition is
/// committed past all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_poison_records_are_dead_lettered_with_their_origin() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let good = events("e", 4, 2);
    let poison: Vec<Vec<u8>> = vec![
        b"not json at all \xff".to_vec(),
        br#"{"event_id":"half","order_id":"o"}"#.to_vec(),
        br#"{"event_id":"neg","order_id":"o","customer":"c","amount_cents":-5,"kind":"placed"}"#
            .to_vec(),
    ];
    let payloads = vec![
        good[0].encode(),
        poison[0].clone(),
        good[1].encode(),
        poison[1].clone(),
        good[2].encode(),
        poison[2].clone(),
        good[3].encode(),
    ];
    let sent = lab.produce_raw(0, &payloads).await?;
    let mut consumer = lab.start("only").await?;
    lab.until_applied(&good, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await?;
    assert_eq!(
        lab.totals().await?,
        expected_totals(&good),
        "customer totals"
    );

    let letters = lab.read_topic(&lab.dead_letters, 1).await?;
    assert_eq!(
        letters.len(),
        poison.len(),
        "expected one dead letter per poison record, found {}: {letters:?}",
        letters.len()
    );
    for (letter, (bytes, at)) in letters.iter().zip([
        (&poison[0], sent[1]),
        (&poison[1], sent[3]),
        (&poison[2], sent[5]),
    ]) {
        assert_eq!(
            letter.payload.as_ref(),
            Some(bytes),
            "a dead letter carries the original bytes"
        );
        let header = |name: &str| letter.headers.get(name).cloned().unwrap_or_default();
        assert_eq!(
            header("lab.original.topic"),
            lab.topic,
            "lab.original.topic header"
        );
        assert_eq!(
            header("lab.original.partition"),
            at.partition.to_string(),
            "lab.original.partition header"
        );
        assert_eq!(
            header("lab.original.offset"),
            at.offset.to_string(),
            "lab.original.offset header"
        );
        assert!(
            !header("lab.error").is_empty(),
            "the lab.error header must say what was wrong"
        );
        assert!(letter.key.is_some(), "a dead letter keeps the original key");
    }
    consumer.stop().await
}

/// With Postgres unreachable, the consumer keeps retrying the failing event in
/// place (it neither dies nor skips it), commits nothing past it, and applies
/// everything exactly once when the database comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_a_database_outage_is_retried_without_moving_past_the_failing_event()
-> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let proxy = FaultProxy::for_url(lab.db.url()).await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect(proxy.url())
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
