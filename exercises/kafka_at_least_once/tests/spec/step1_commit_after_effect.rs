//! Step 1: consume, apply in order, and commit an offset only after its effect.

use std::time::Duration;

use crate::support::{Lab, SETTLE, events, expected_totals};

/// Every produced event is applied exactly once by a single consumer that is
/// never disturbed, the totals match, and the group's committed offsets reach
/// the end of every partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_every_event_is_applied_and_every_partition_is_committed_to_its_end()
-> anyhow::Result<()> {
    let lab = Lab::new(3).await?;
    let events = events("e", 60, 6);
    let sent = lab.produce(&events).await?;
    let mut consumer = lab.start("only").await?;

    lab.until_applied(&events, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await?;

    let applied = lab.applications().await?;
    let twice: Vec<_> = applied.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "with no crash and no rebalance every event is delivered once, yet these were applied more than once: {twice:?}"
    );
    assert_eq!(
        lab.totals().await?,
        expected_totals(&events),
        "customer totals"
    );
    consumer.stop().await
}

/// A consumer stopped after a clean run has committed exactly the offset after
/// the last record it applied, no further: a restart re-reads nothing and
/// skips nothing. (`store_offset_from_message` stores `offset + 1` itself, and
/// so does `store_offset`: handing it `offset + 1` commits one record too far,
/// and the restart skips that record.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_stopped_consumer_has_committed_exactly_the_offset_after_its_last_record()
-> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let events = events("e", 3, 3);
    let sent = lab.produce_to(0, &events).await?;
    let mut consumer = lab.start("only").await?;
    lab.until_applied(&events, &mut [&mut consumer]).await?;
    lab.until_committed_to_the_end(&sent).await?;
    consumer.stop().await?;

    let next = sent[sent.len() - 1].offset + 1;
    let committed = lab.committed().await?[0];
    assert_eq!(
        committed,
        Some(next),
        "the last record is at offset {}, so the group must have committed {next}, the next \
         record to read: more skips a record on restart, less reads one again. Use \
         store_offset_from_message (or store_offset with message.offset()), never offset + 1: \
         librdkafka adds the one (README step 1)",
        next - 1
    );
    Ok(())
}

/// Records of one partition are applied in offset order: while the first
/// record's effect is stuck on a row lock, none of the records behind it is
/// applied, and afterwards the application order is the offset order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_each_partition_is_applied_in_offset_order() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let mut events = events("e", 6, 3);
    events[0].customer = "stuck".into();
    let held = lab.hold("stuck").await?;
    lab.produce_to(0, &events).await?;
    let mut consumer = lab.start("only").await?;

    lab.until_someone_waits_for_a_lock().await?;
    let overtaken = lab
        .briefly(async || Ok(!lab.applications().await?.is_empty()))
        .await?;
    held.release().await?;
    assert!(
        !overtaken,
        "a later record of the partition was applied while the first one was still in flight; \
         process each partition's records one after another (README step 1)"
    );

    lab.until_applied(&events, &mut [&mut consumer]).await?;
    let expected: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(
        lab.application_order().await?,
        expected,
        "effects must be applied in offset order"
    );
    consumer.stop().await
}

/// A consumer killed while an event's effect is still in flight has not
/// committed that event's offset — neither before the kill nor as it goes
/// down — and the next consumer applies it. While the effect is stuck, the
/// background commit still commits the records before it: exactly up to the
/// stuck one, not past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_consumer_killed_mid_effect_has_not_committed_that_event() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let mut events = events("e", 4, 2);
    events[2].customer = "stuck".into();
    let held = lab.hold("stuck").await?;
    let sent = lab.produce_to(0, &events).await?;
    let stuck_offset = sent[2].offset;
    let mut first = lab
        .start_with("first", |c| c.commit_interval = Duration::from_millis(100))
        .await?;

    lab.until_someone_waits_for_a_lock().await?;
    // The two records before the stuck one are done: the background commit
    // must get to them (it runs every 100 ms, also while a record is stuck).
    let deadline = tokio::time::Instant::now() + SETTLE;
    let while_running = loop {
        let committed = lab.committed().await?[0];
        if committed.is_some_and(|c| c >= stuck_offset) {
            break committed;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "while offset {stuck_offset} was stuck the group's commit stayed at {committed:?} for \
             {SETTLE:?}: commit what you stored every commit_interval, in the background, also \
             while a record is in flight (README step 1)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        while_running,
        Some(stuck_offset),
        "while the effect of offset {stuck_offset} was in flight the group committed \
         {while_running:?}: an offset may be committed only after its record's effect (README \
         step 1). Turn off the automatic offset store (enable.auto.offset.store=false) and store \
         each offset after its effect"
    );

    first.abort().await?;
    let after_kill = lab.committed().await?[0];
    assert!(
        after_kill.is_none_or(|c| c <= stuck_offset),
        "after the consumer died mid-effect the group had committed {after_kill:?}, past offset \
         {stuck_offset} whose effect never happened: the event is lost. Turn off the automatic \
         offset store (enable.auto.offset.store=false) and store each offset after its effect"
    );

    held.release().await?;
    let mut second = lab.start("second").await?;
    lab.until_applied(&events, &mut [&mut second]).await?;
    second.stop().await
}
