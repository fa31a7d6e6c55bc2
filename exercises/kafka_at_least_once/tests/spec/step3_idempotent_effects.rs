//! Step 3: a dedup record in the effect's own transaction: exactly one effect
//! per event however often it is delivered.

use kafka_at_least_once::Point;

use crate::support::{Lab, crash_randomly, events, expected_totals};

/// A redelivered event (crash between effect and commit) is recognised and its
/// effect is not applied again; the consumer reports it as a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_a_redelivered_event_is_not_applied_again() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let events = events("e", 10, 3);
    lab.produce_to(0, &events).await?;
    let target = events[4].event_id.clone();
    let wanted = target.clone();
    let fired = lab
        .recorder
        .arm(move |p| matches!(p, Point::Applied { event_id, .. } if *event_id == wanted));
    let mut first = lab.start("first").await?;
    first.crash_at(fired).await?;
    let mut second = lab.start("second").await?;
    lab.until_applied(&events, &mut [&mut second]).await?;

    assert_eq!(
        lab.recorder.deliveries().get(&target),
        Some(&2),
        "the crash must cause a redelivery of {target}"
    );
    let applied = lab.applications().await?;
    assert_eq!(
        applied.get(&target),
        Some(&1),
        "{target} was delivered twice and its effect must land once; applications: {applied:?}. \
         Record the event id in processed_events in the effect's transaction and skip the effect if it is there"
    );
    let second_time = lab.recorder.points().into_iter().any(|(name, p)| {
        name == "second"
            && matches!(&p, Point::Applied { event_id, duplicate: true, .. } if *event_id == target)
    });
    assert!(
        second_time,
        "the redelivery of {target} must reach Point::Applied with duplicate: true"
    );
    assert_eq!(
        lab.totals().await?,
        expected_totals(&events),
        "customer totals"
    );
    second.stop().await
}

/// The dedup record and the effect are written by the same transaction (the
/// `processed_events` row and the `effect_log` row have the same `xmin`), so
/// one cannot commit without the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_the_dedup_record_commits_in_the_effects_transaction() -> anyhow::Result<()> {
    let lab = Lab::new(2).await?;
    let events = events("e", 12, 3);
    lab.produce(&events).await?;
    let mut consumer = lab.start("only").await?;
    lab.until_applied(&events, &mut [&mut consumer]).await?;
    consumer.stop().await?;

    let (recorded, apart): (i64, i64) = sqlx::query_as(
        "SELECT count(p.event_id),
                count(*) FILTER (WHERE p.xmin::text IS DISTINCT FROM l.xmin::text)
         FROM effect_log l LEFT JOIN processed_events p USING (event_id)",
    )
    .fetch_one(lab.pool())
    .await?;
    assert_eq!(
        recorded,
        events.len() as i64,
        "every applied event needs its processed_events row"
    );
    assert_eq!(
        apart, 0,
        "{apart} events have their dedup record and their effect in different transactions: \
         a crash between the two loses the effect or applies it twice (README step 3)"
    );
    Ok(())
}

/// After four crashes at random points, every event's effect landed exactly
/// once and the totals are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_totals_are_exact_after_crashes_at_random_points() -> anyhow::Result<()> {
    let lab = Lab::new(3).await?;
    let events = events("e", 60, 5);
    lab.produce(&events).await?;

    let mut last = crash_randomly(&lab, &events, 4).await?;
    lab.until_applied(&events, &mut [&mut last]).await?;

    let twice: Vec<_> = lab
        .applications()
        .await?
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "effects applied more than once: {twice:?}"
    );
    assert_eq!(
        lab.totals().await?,
        expected_totals(&events),
        "customer totals"
    );
    last.stop().await
}

/// The same event at two offsets (a producer retry without idempotence) is
/// applied once, and both offsets are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step3_the_same_event_at_two_offsets_is_applied_once() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let events = events("e", 5, 2);
    let mut with_retry = events.clone();
    with_retry.push(events[2].clone());
    let sent = lab.produce_to(0, &with_retry).await?;
    let mut consumer = lab.start("only").await?;
    lab.until_applied(&events, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await?;

    let applied = lab.applications().await?;
    assert_eq!(
        applied.get(&events[2].event_id),
        Some(&1),
        "the event produced twice must be applied once; applications: {applied:?}"
    );
    assert_eq!(
        lab.totals().await?,
        expected_totals(&events),
        "customer totals"
    );
    consumer.stop().await
}
