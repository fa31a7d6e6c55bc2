//! Step 5, hidden: each database attempt is bounded by `io_timeout`, so a
//! connection that goes silent is abandoned and the record retried.

use std::time::Duration;

use anyhow::Context;

use crate::support::{Lab, SETTLE, events, expected_totals};

/// An attempt whose connection goes silent mid-transaction (the proxy stalls:
/// no error, no answer) is abandoned after `io_timeout` and the same record is
/// retried on fresh connections; once the link is back everything is applied
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step5_an_attempt_on_a_connection_gone_silent_is_abandoned_after_io_timeout()
-> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let (proxy, pool) = lab.pool_through_a_proxy(8, Duration::from_secs(1)).await?;
    let mut events = events("e", 3, 3);
    events[0].customer = "stuck".into();
    let held = lab.hold("stuck").await?;
    let mut config = lab.config();
    config.io_timeout = Duration::from_secs(1);
    config.retry_initial = Duration::from_millis(50);
    config.retry_max = Duration::from_millis(200);
    let mut consumer = lab.start_configured("only", pool, config)?;
    lab.produce_to(0, &events).await?;

    // The first record's effect waits for the held lock on a live connection.
    // Then the link goes silent, so the answer Postgres gives once the lock is
    // released never arrives: no error, only a timeout can notice.
    lab.until_someone_waits_for_a_lock().await?;
    proxy.stall();
    let before = proxy.connections_accepted();
    held.release().await?;

    labkit::eventually(
        SETTLE,
        "the consumer to abandon the silent attempt and retry on new connections",
        || {
            let retried = proxy.connections_accepted() - before >= 2;
            async move { Ok(retried) }
        },
    )
    .await
    .context(
        "an attempt on a connection that went silent was never given up: bound each attempt by \
         io_timeout and retry the record (README step 5: bounded per attempt by io_timeout)",
    )?;
    consumer.check_alive().await?;

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
