//! Step 1, hidden: `run` checks `stop` only between records, and commits what
//! it stored on the way out.

use std::time::Duration;

use crate::support::{GRACE, Lab, SETTLE, events};

/// A stop requested while a record's effect is in flight waits for that
/// record: `run` returns only once it is applied, commits its offset on the
/// way out, and the next consumer starts right after it (nothing twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step1_a_stop_requested_mid_record_finishes_that_record_first() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let mut events = events("e", 4, 2);
    events[1].customer = "stuck".into();
    let held = lab.hold("stuck").await?;
    let sent = lab.produce_to(0, &events).await?;
    // No background commit during the test: whatever is committed when the
    // consumer has stopped, its stop committed.
    let first = lab
        .start_with("first", |c| c.commit_interval = Duration::from_secs(3600))
        .await?;

    lab.until_someone_waits_for_a_lock().await?;
    let stopping = tokio::spawn(first.stop());
    // Only a consumer that abandons the record in flight is fast enough to be
    // caught by this; a right one just costs the test the wait.
    let deadline = tokio::time::Instant::now() + 2 * GRACE;
    let mut stopped_mid_record = stopping.is_finished();
    while !stopped_mid_record && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stopped_mid_record = stopping.is_finished();
    }
    held.release().await?;
    assert!(
        !stopped_mid_record,
        "run returned while the effect of offset {} was still in flight: check `stop` only \
         between records, so a record that started is finished before you stop (README step 1)",
        sent[1].offset
    );
    let stopped = labkit::within(
        SETTLE,
        "the consumer to stop once its record was done",
        stopping,
    )
    .await??;
    stopped?;

    let applied = lab.applications().await?;
    assert_eq!(
        applied.get(&events[1].event_id),
        Some(&1),
        "the record in flight when stop was requested must be applied before run returns; \
         applications: {applied:?}"
    );
    let committed = lab.committed().await?[0];
    assert!(
        committed.is_some_and(|c| c > sent[1].offset),
        "after a stop that finished offset {} the group committed {committed:?}: commit what you \
         stored on the way out (README step 1)",
        sent[1].offset
    );

    let mut second = lab.start("second").await?;
    lab.until_applied(&events, &mut [&mut second]).await?;
    let twice: Vec<_> = lab
        .recorder
        .deliveries()
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "a graceful stop must leave nothing to redeliver, yet these came twice: {twice:?}"
    );
    second.stop().await
}
