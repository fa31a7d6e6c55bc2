//! Step 6: the producing side. The order and its event commit together; the
//! relay publishes every outbox row at least once and marks it only after the
//! broker acknowledged it; the consumer's dedup makes the whole path exactly
//! once.

use std::collections::BTreeMap;

use kafka_at_least_once::{NewOrder, OrderEvent, Point, place_order};

use crate::support::{Lab, Running, SETTLE, expected_totals};

async fn place(lab: &Lab, n: usize) -> anyhow::Result<Vec<OrderEvent>> {
    let mut placed = Vec::new();
    for i in 0..n {
        let order = NewOrder {
            order_id: format!("order-{i}"),
            customer: format!("customer-{}", i % 4),
            amount_cents: 500 + i as i64,
        };
        placed.push(place_order(lab.pool(), &order).await?);
    }
    Ok(placed)
}

async fn until_all_marked(lab: &Lab, relay: &mut Running) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        relay.check_alive().await?;
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(lab.pool())
                .await?;
        if left == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{left} outbox rows were still unpublished after {SETTLE:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// How often each event id appears on the orders topic.
async fn published(lab: &Lab) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for record in lab.read_topic(&lab.topic, lab.partitions).await? {
        let event = OrderEvent::decode(record.payload.as_deref()).map_err(|e| {
            anyhow::anyhow!("the relay published something that is not an event: {e}")
        })?;
        *counts.entry(event.event_id).or_default() += 1;
    }
    Ok(counts)
}

/// `place_order` writes the order and its outbox row in one transaction (the
/// two rows share an `xmin`), and the outbox row holds the returned event,
/// unpublished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_an_order_and_its_outbox_row_commit_in_one_transaction() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let placed = place(&lab, 3).await?;
    for event in &placed {
        let (same_tx, payload, published): (bool, Vec<u8>, bool) = sqlx::query_as(
            "SELECT s.xmin::text = o.xmin::text, o.payload, o.published_at IS NOT NULL
             FROM shop_orders s JOIN outbox o ON o.event_key = s.order_id
             WHERE s.order_id = $1",
        )
        .bind(&event.order_id)
        .fetch_optional(lab.pool())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no order + outbox row for {}", event.order_id))?;
        assert!(
            same_tx,
            "the order {} and its outbox row were written by different transactions: a crash \
             between them leaves an order nobody hears about (README step 6)",
            event.order_id
        );
        assert_eq!(
            OrderEvent::decode(Some(payload.as_slice())).as_ref(),
            Ok(event),
            "outbox payload"
        );
        assert!(!published, "place_order must not mark anything published");
    }
    Ok(())
}

/// An order placed twice with the same id is refused the second time, and only
/// one event waits in the outbox (README, bad input).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_an_order_placed_twice_is_refused_and_announced_once() -> anyhow::Result<()> {
    let lab = Lab::new(1).await?;
    let order = NewOrder {
        order_id: "order-twice".into(),
        customer: "customer-0".into(),
        amount_cents: 700,
    };
    place_order(lab.pool(), &order).await?;
    assert!(
        place_order(lab.pool(), &order).await.is_err(),
        "README bad input: an order placed twice with the same id fails"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_key = $1")
        .bind(&order.order_id)
        .fetch_one(lab.pool())
        .await?;
    assert_eq!(rows, 1, "the refused order left an outbox row of its own");
    Ok(())
}

/// The relay publishes every outbox row exactly once when nothing goes wrong,
/// keyed by order id, and marks every row published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_the_relay_publishes_every_row_and_marks_it() -> anyhow::Result<()> {
    let lab = Lab::new(3).await?;
    let placed = place(&lab, 25).await?;
    let mut relay = lab.start_relay("relay").await?;
    until_all_marked(&lab, &mut relay).await?;
    relay.stop().await?;

    let counts = published(&lab).await?;
    for event in &placed {
        assert_eq!(
            counts.get(&event.event_id),
            Some(&1),
            "{} must be on the topic once; found {counts:?}",
            event.event_id
        );
    }
    for record in lab.read_topic(&lab.topic, lab.partitions).await? {
        let event = OrderEvent::decode(record.payload.as_deref())
            .map_err(|e| anyhow::anyhow!("not an event: {e}"))?;
        assert_eq!(
            record.key.as_deref(),
            Some(event.order_id.as_bytes()),
            "{} must be keyed by its order id, so an order's events share a partition (README \
             step 6)",
            event.event_id
        );
    }
    Ok(())
}

/// A relay killed after the broker acknowledged a batch but before it marked
/// the rows publishes them again when restarted; the consumer still applies
/// every order exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_a_relay_killed_after_publishing_republishes_and_the_effect_is_still_once()
-> anyhow::Result<()> {
    let lab = Lab::new(3).await?;
    let placed = place(&lab, 25).await?;
    let fired = lab
        .recorder
        .arm(|p| matches!(p, Point::Published { outbox_ids } if outbox_ids.contains(&11)));
    let mut relay = lab.start_relay("relay-1").await?;
    relay.crash_at(fired).await?;
    let mut relay = lab.start_relay("relay-2").await?;
    until_all_marked(&lab, &mut relay).await?;
    relay.stop().await?;

    let counts = published(&lab).await?;
    assert!(
        placed.iter().all(|e| counts.contains_key(&e.event_id)),
        "every placed order must be published; found {counts:?}"
    );
    assert!(
        counts.values().any(|n| *n > 1),
        "the batch acknowledged before the crash was never marked, so it must be published \
         again; found {counts:?}"
    );

    let mut consumer = lab.start("billing").await?;
    lab.until_applied(&placed, &mut [&mut consumer]).await?;
    let applied = lab.applications().await?;
    assert!(
        applied.values().all(|n| *n == 1),
        "applications: {applied:?}"
    );
    assert_eq!(
        lab.totals().await?,
        expected_totals(&placed),
        "customer totals"
    );
    consumer.stop().await
}

/// A relay killed after reading a batch but before handing it to the producer
/// loses nothing: the restarted relay publishes every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_a_relay_killed_before_publishing_loses_nothing() -> anyhow::Result<()> {
    let lab = Lab::new(3).await?;
    let placed = place(&lab, 25).await?;
    let fired = lab
        .recorder
        .arm(|p| matches!(p, Point::Publishing { outbox_ids } if outbox_ids.contains(&11)));
    let mut relay = lab.start_relay("relay-1").await?;
    relay.crash_at(fired).await?;
    let mut relay = lab.start_relay("relay-2").await?;
    until_all_marked(&lab, &mut relay).await?;
    relay.stop().await?;

    let counts = published(&lab).await?;
    let missing: Vec<&str> = placed
        .iter()
        .filter(|e| !counts.contains_key(&e.event_id))
        .map(|e| e.event_id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "marked published but never on the topic: {missing:?}. Mark rows only after the broker \
         acknowledged them (README step 6)"
    );
    Ok(())
}
