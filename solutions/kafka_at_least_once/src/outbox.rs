//! The producing side — reference: a transactional outbox and its relay.
//!
//! Writing the order to Postgres and then producing to Kafka is a dual write:
//! a crash between the two loses the event, and producing first can announce
//! an order that never committed. The outbox turns it into one local
//! transaction (order + outbox row) and moves the publishing to a relay that
//! can crash and retry freely. What the relay guarantees is *at least once*:
//! it marks rows published only after the broker acknowledged them, so a crash
//! in between republishes them, and the consumer's dedup (step 3) makes the
//! end-to-end effect exactly once.
//!
//! The idempotent producer (`enable.idempotence`) removes one more source of
//! duplicates — the producer's own retries after a lost acknowledgement — and
//! keeps per-partition order through those retries. It cannot remove the
//! relay-crash duplicates: a restarted relay is a new producer.

use std::future::Future;

use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use tracing::warn;

use crate::config::{NewOrder, RelayConfig};
use crate::error::{LabError, Result, bounded};
use crate::event::{EventKind, OrderEvent};
use crate::probe::{Point, Probe};

/// Record `order` and its `Placed` event in one transaction, and return the
/// event. Nothing is published here: the relay does that.
pub async fn place_order(pool: &PgPool, order: &NewOrder) -> Result<OrderEvent> {
    let event = OrderEvent {
        // Derived from the order, so a client retrying the same order gets the
        // primary-key error instead of a second event.
        event_id: format!("{}:placed", order.order_id),
        order_id: order.order_id.clone(),
        customer: order.customer.clone(),
        amount_cents: order.amount_cents,
        kind: EventKind::Placed,
    };
    let write = async {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO shop_orders (order_id, customer, amount_cents) VALUES ($1, $2, $3)",
        )
        .bind(&order.order_id)
        .bind(&order.customer)
        .bind(order.amount_cents)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO outbox (event_id, event_key, payload) VALUES ($1, $2, $3)")
            .bind(&event.event_id)
            .bind(&event.order_id)
            .bind(event.encode())
            .execute(&mut *tx)
            .await?;
        // Both rows or neither: there is no moment at which the order exists
        // without the event that announces it.
        tx.commit().await?;
        Ok::<(), LabError>(())
    };
    bounded(
        "placing an order",
        std::time::Duration::from_secs(10),
        write,
    )
    .await?;
    Ok(event)
}

pub struct Relay {
    producer: FutureProducer,
    pool: PgPool,
    config: RelayConfig,
    probe: Probe,
}

impl Relay {
    pub fn new(config: RelayConfig, pool: PgPool, probe: Probe) -> Result<Relay> {
        let producer: FutureProducer = config
            .kafka()
            // Implies acks=all, bounded in-flight requests and retries that
            // neither duplicate nor reorder within a partition.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?;
        Ok(Relay {
            producer,
            pool,
            config,
            probe,
        })
    }

    /// Publish the oldest unpublished rows (up to `batch_size`) and mark them
    /// published. Returns how many rows it published; 0 when the outbox is
    /// empty.
    ///
    /// One relay at a time is assumed. Two would publish some rows twice
    /// (harmless downstream); production would claim rows with
    /// `FOR UPDATE SKIP LOCKED` or elect a single relay.
    pub async fn publish_batch(&self) -> Result<usize> {
        let limit = self.config.io_timeout;
        let rows: Vec<(i64, String, Vec<u8>)> = bounded(
            "reading the outbox",
            limit,
            sqlx::query_as(
                "SELECT id, event_key, payload FROM outbox
                 WHERE published_at IS NULL ORDER BY id LIMIT $1",
            )
            .bind(self.config.batch_size)
            .fetch_all(&self.pool),
        )
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|(id, _, _)| *id).collect();
        self.probe
            .reached(Point::Publishing {
                outbox_ids: ids.clone(),
            })
            .await;

        // Hand the whole batch to the producer, in outbox order, then wait for
        // every acknowledgement: one round trip per batch, not per row.
        let mut deliveries = Vec::with_capacity(rows.len());
        for (_, key, payload) in &rows {
            let record = FutureRecord::to(&self.config.topic)
                .key(key)
                .payload(payload);
            let delivery = self.producer.send_result(record).map_err(|(e, _)| e)?;
            deliveries.push(delivery);
        }
        for delivery in deliveries {
            match tokio::time::timeout(limit, delivery).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((error, _)))) => return Err(error.into()),
                Ok(Err(_)) => return Err(LabError::DeliveryCancelled),
                Err(_) => {
                    return Err(LabError::Timeout {
                        what: "the acknowledgements of an outbox batch",
                        limit,
                    });
                }
            }
        }
        // A failure above returns before this line: rows already published
        // stay unmarked and go out again next time (at least once).
        self.probe
            .reached(Point::Published {
                outbox_ids: ids.clone(),
            })
            .await;

        bounded(
            "marking outbox rows published",
            limit,
            sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
                .bind(&ids)
                .execute(&self.pool),
        )
        .await?;
        Ok(ids.len())
    }

    /// Publish batches until `stop` completes; sleep `idle` when the outbox is
    /// empty; log and retry after a failure.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(stop);
        let mut pause = self.config.idle;
        loop {
            let published = tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                published = self.publish_batch() => published,
            };
            match published {
                Ok(0) => tokio::time::sleep(self.config.idle).await,
                Ok(_) => pause = self.config.idle,
                Err(error) => {
                    warn!(%error, ?pause, "publishing an outbox batch failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
            }
        }
    }
}
