//! Step 6, hidden: the relay marks exactly the rows it published, even when
//! an order's transaction commits while a batch is in flight.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use kafka_at_least_once::{NewOrder, OrderEvent, Point, Probe, Relay, place_order};
use sqlx::{Connection, PgConnection};
use tokio::sync::{Notify, oneshot};

use crate::support::{Lab, SETTLE};

/// A probe that holds the relay at its first `Point::Published` until `go` is
/// notified, and sends the ids of that batch. Every later point passes.
fn hold_at_first_published() -> (Probe, oneshot::Receiver<Vec<i64>>, Arc<Notify>) {
    let (reached, batch) = oneshot::channel();
    let reached = Arc::new(Mutex::new(Some(reached)));
    let go = Arc::new(Notify::new());
    let release = go.clone();
    let probe = Probe::new(move |point: Point| {
        let reached = reached.clone();
        let release = release.clone();
        async move {
            if let Point::Published { outbox_ids } = point {
                let first = reached.lock().expect("probe lock").take();
                if let Some(reached) = first {
                    let _ = reached.send(outbox_ids);
                    release.notified().await;
                }
            }
        }
    });
    (probe, batch, go)
}

/// How often each event id appears on the orders topic.
async fn on_the_topic(lab: &Lab) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for record in lab.read_topic(&lab.topic, lab.partitions).await? {
        let event = OrderEvent::decode(record.payload.as_deref()).map_err(|e| {
            anyhow::anyhow!("the relay published something that is not an event: {e}")
        })?;
        *counts.entry(event.event_id).or_default() += 1;
    }
    Ok(counts)
}

/// The relay marks exactly the rows it produced: a row whose order
/// transaction took the lower outbox id but committed while a batch was in
/// flight is not marked with that batch, and goes out with the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step6_a_row_that_commits_during_a_batch_is_left_for_the_next_batch() -> anyhow::Result<()>
{
    let lab = Lab::new(1).await?;
    // A slow order: its transaction takes an outbox id first and commits last.
    let late = OrderEvent::placed("order-late:placed", "order-late", "customer-1", 900);
    let mut slow = PgConnection::connect(lab.db.url()).await?;
    sqlx::query("BEGIN").execute(&mut slow).await?;
    sqlx::query("INSERT INTO shop_orders (order_id, customer, amount_cents) VALUES ($1, $2, $3)")
        .bind(&late.order_id)
        .bind(&late.customer)
        .bind(late.amount_cents)
        .execute(&mut slow)
        .await?;
    let late_id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (event_id, event_key, payload) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&late.event_id)
    .bind(&late.order_id)
    .bind(late.encode())
    .fetch_one(&mut slow)
    .await?;
    let early = place_order(
        lab.pool(),
        &NewOrder {
            order_id: "order-early".into(),
            customer: "customer-0".into(),
            amount_cents: 800,
        },
    )
    .await?;

    let (probe, batch, go) = hold_at_first_published();
    let relay = Arc::new(
        Relay::new(lab.relay_config(), lab.db.new_pool(2).await?, probe)
            .context("Relay::new failed")?,
    );
    let mut first = tokio::spawn({
        let relay = relay.clone();
        async move { relay.publish_batch().await }
    });
    let in_flight = labkit::within(
        SETTLE,
        "the relay's first batch to reach Point::Published",
        async {
            tokio::select! {
                ids = batch => ids.context("the probe was dropped"),
                ended = &mut first => Err(anyhow::anyhow!(
                    "publish_batch returned {ended:?} without reaching Point::Published"
                )),
            }
        },
    )
    .await??;
    anyhow::ensure!(
        !in_flight.contains(&late_id),
        "the batch {in_flight:?} holds outbox row {late_id}, whose transaction had not committed \
         when the relay read the outbox"
    );

    // The slow order commits while the batch is acknowledged but not marked.
    sqlx::query("COMMIT").execute(&mut slow).await?;
    go.notify_one();
    labkit::within(SETTLE, "the first batch to finish", first).await???;
    let late_marked: bool =
        sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE id = $1")
            .bind(late_id)
            .fetch_one(lab.pool())
            .await?;

    // Drain the outbox, as the relay's loop would.
    let mut batches = 0;
    while labkit::within(SETTLE, "a later batch", relay.publish_batch()).await?? > 0 {
        batches += 1;
        anyhow::ensure!(
            batches < 10,
            "the outbox never drained: two rows, {batches} batches"
        );
    }

    let counts = on_the_topic(&lab).await?;
    assert!(
        counts.contains_key(&late.event_id),
        "{} is on no topic, yet its outbox row was {}: mark exactly the rows the batch produced \
         (`WHERE id = ANY(ids)`), never everything up to its highest id, or a row that commits \
         late is marked without being sent (README step 6); on the topic: {counts:?}",
        late.event_id,
        if late_marked {
            "marked published by a batch that never held it"
        } else {
            "left unpublished"
        }
    );
    assert_eq!(
        counts.get(&early.event_id),
        Some(&1),
        "{} must be on the topic once; found {counts:?}",
        early.event_id
    );
    Ok(())
}
