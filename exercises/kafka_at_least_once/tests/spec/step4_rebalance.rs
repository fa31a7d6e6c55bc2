//! Step 4: members join and leave; partitions move; offsets are committed on
//! revocation and at shutdown, so nothing is lost and nothing is delivered
//! twice.
//!
//! Every member here commits in the background only once an hour, so the
//! commits these tests see are the ones made when partitions are revoked and
//! when a member stops — the ones this step is about.

use std::time::Duration;

use crate::support::{Lab, Running, SETTLE, events, expected_totals};
use kafka_at_least_once::OrderEvent;

/// A member whose background commit never comes round during a test.
async fn member(lab: &Lab, name: &str) -> anyhow::Result<Running> {
    lab.start_with(name, |c| c.commit_interval = Duration::from_secs(3600))
        .await
}

/// Keep producing fresh events, a few at a time, until `member` has received
/// one: proof that it owns partitions now. Returns everything produced.
async fn until_it_owns_partitions(
    lab: &Lab,
    member: &mut Running,
    tag: &str,
) -> anyhow::Result<Vec<OrderEvent>> {
    let mut produced = Vec::new();
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut round = 0;
    while lab.recorder.received_by(&member.name) == 0 {
        member.check_alive().await?;
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{} received nothing within {SETTLE:?} of joining the group",
            member.name
        );
        let batch = events(&format!("{tag}{round}-"), 8, 4);
        lab.produce(&batch).await?;
        produced.extend(batch);
        round += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(produced)
}

fn assert_delivered_once(lab: &Lab) {
    let twice: Vec<_> = lab
        .recorder
        .deliveries()
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(
        twice.is_empty(),
        "a graceful rebalance redelivered {twice:?}: commit the stored offsets, synchronously, \
         when partitions are revoked and when the consumer stops (README step 4)"
    );
}

/// A second member joins mid-run and takes partitions; every event is applied
/// once and no event is delivered twice, because the first member committed
/// what it had done when its partitions were revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_member_joining_mid_run_takes_over_without_redelivery() -> anyhow::Result<()> {
    let lab = Lab::new(4).await?;
    let mut all = events("a", 40, 4);
    lab.produce(&all).await?;
    let mut first = member(&lab, "first").await?;
    lab.until_applied(&all, &mut [&mut first]).await?;

    let mut second = member(&lab, "second").await?;
    all.extend(until_it_owns_partitions(&lab, &mut second, "b").await?);
    let tail = events("c", 40, 4);
    lab.produce(&tail).await?;
    all.extend(tail);
    lab.until_applied(&all, &mut [&mut first, &mut second])
        .await?;

    assert_delivered_once(&lab);
    assert_eq!(
        lab.totals().await?,
        expected_totals(&all),
        "customer totals"
    );
    first.stop().await?;
    second.stop().await
}

/// One of two members leaves; the other takes over its partitions and starts
/// exactly where the leaver stopped: nothing lost, nothing delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_member_leaving_hands_over_without_redelivery() -> anyhow::Result<()> {
    let lab = Lab::new(4).await?;
    let mut first = member(&lab, "first").await?;
    let mut second = member(&lab, "second").await?;
    let mut all = until_it_owns_partitions(&lab, &mut first, "a").await?;
    all.extend(until_it_owns_partitions(&lab, &mut second, "b").await?);
    lab.until_applied(&all, &mut [&mut first, &mut second])
        .await?;

    second.stop().await?;
    let tail = events("c", 40, 4);
    lab.produce(&tail).await?;
    all.extend(tail);
    lab.until_applied(&all, &mut [&mut first]).await?;

    assert_delivered_once(&lab);
    assert_eq!(
        lab.totals().await?,
        expected_totals(&all),
        "customer totals"
    );
    first.stop().await
}
