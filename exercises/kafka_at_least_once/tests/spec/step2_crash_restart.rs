//! Step 2: crashes at exact and random points; nothing is missing, and the
//! redeliveries that at-least-once promises are seen to happen.

use kafka_at_least_once::Point;

use crate::support::{Lab, crash_randomly, events};

/// A crash after an event's effect committed but before its offset was stored
/// leaves the offset uncommitted, so the restarted consumer receives the event
/// a second time: the redelivery at-least-once is built on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_crash_between_the_effect_and_the_commit_redelivers_the_event() -> anyhow::Result<()>
{
    let lab = Lab::new(1).await?;
    let events = events("e", 10, 3);
    let sent = lab.produce_to(0, &events).await?;
    let target = events[4].event_id.clone();
    let wanted = target.clone();
    let fired = lab
        .recorder
        .arm(move |p| matches!(p, Point::Applied { event_id, .. } if *event_id == wanted));

    let mut first = lab.start("first").await?;
    first.crash_at(fired).await?;
    let committed = lab.committed().await?[0];
    assert!(
        committed.is_none_or(|c| c <= sent[4].offset),
        "the consumer crashed before storing offset {}, yet the group committed {committed:?}",
        sent[4].offset
    );

    let mut second = lab.start("second").await?;
    lab.until_applied(&events, &mut [&mut second]).await?;
    let deliveries = lab.recorder.deliveries();
    assert_eq!(
        deliveries.get(&target),
        Some(&2),
        "{target} crashed between its effect and its commit, so it must be delivered exactly \
         twice (once before the crash, once after); deliveries: {deliveries:?}. Call \
         probe.reached(Point::Received ..) for every record and Point::Applied after the commit of the effect"
    );
    second.stop().await
}

/// Four crashes at random points (just after receiving a random pending event,
/// or just after its effect) and restarts: every event is applied at least
/// once, and at least one was delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_repeated_crashes_at_random_points_lose_nothing() -> anyhow::Result<()> {
    let lab = Lab::new(3).await?;
    let events = events("e", 60, 5);
    lab.produce(&events).await?;

    let mut last = crash_randomly(&lab, &events, 4).await?;
    lab.until_applied(&events, &mut [&mut last]).await?;

    let deliveries = lab.recorder.deliveries();
    let total: usize = deliveries.values().sum();
    assert!(
        total > events.len(),
        "four crashes caused no redelivery ({total} deliveries of {} events): the schedule \
         proves nothing unless some event is delivered twice",
        events.len()
    );
    last.stop().await
}

/// A crash while an earlier record is still in flight and later ones could
/// have finished loses nothing: no offset is committed past the unfinished
/// record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step2_a_crash_with_an_earlier_record_still_in_flight_loses_nothing() -> anyhow::Result<()>
{
    let lab = Lab::new(1).await?;
    let mut events = events("e", 6, 3);
    events[0].customer = "stuck".into();
    let held = lab.hold("stuck").await?;
    let sent = lab.produce_to(0, &events).await?;
    let mut first = lab.start("first").await?;

    lab.until_someone_waits_for_a_lock().await?;
    // Give a concurrent consumer the time to finish the records behind the
    // stuck one (a sequential one cannot).
    lab.briefly(async || Ok(lab.applications().await?.len() == events.len() - 1))
        .await?;
    first.abort().await?;
    let committed = lab.committed().await?[0];
    held.release().await?;
    assert!(
        committed.is_none_or(|c| c <= sent[0].offset),
        "the consumer died with offset {} unfinished, yet the group committed {committed:?}: \
         a later record's offset was stored while an earlier one was in flight (README step 2)",
        sent[0].offset
    );

    let mut second = lab.start("second").await?;
    lab.until_applied(&events, &mut [&mut second]).await?;
    second.stop().await
}
