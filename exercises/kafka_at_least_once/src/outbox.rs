//! The producing side: a transactional outbox and its relay. Yours to write
//! in step 6.

use std::future::Future;

use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::PgPool;
use tracing::warn;

use crate::config::{NewOrder, RelayConfig};
use crate::error::{LabError, Result, bounded};
use crate::event::{EventKind, OrderEvent};
use crate::probe::{Point, Probe};

/// Record `order` (in `shop_orders`) and its `Placed` event (in `outbox`,
/// with `event_id = "<order_id>:placed"`, `event_key = order_id` and the
/// encoded event as payload), and return the event. Nothing is published here.
pub async fn place_order(pool: &PgPool, order: &NewOrder) -> Result<OrderEvent> {
    // TODO(step 6): both rows in one transaction.
    todo!("step 6: place an order")
}

pub struct Relay {
    producer: FutureProducer,
    pool: PgPool,
    config: RelayConfig,
    probe: Probe,
}

impl Relay {
    /// Build an idempotent producer from `config.kafka()`.
    pub fn new(config: RelayConfig, pool: PgPool, probe: Probe) -> Result<Relay> {
        // TODO(step 6): an idempotent producer.
        todo!("step 6: create the relay")
    }

    /// Publish the oldest unpublished rows (up to `batch_size`), keyed by
    /// `event_key`, then mark them published. Returns the number published
    /// (0 when the outbox is empty). Call `Point::Publishing` before handing
    /// the batch to the producer and `Point::Published` once every record is
    /// acknowledged.
    pub async fn publish_batch(&self) -> Result<usize> {
        // TODO(step 6): read, publish, wait for every acknowledgement, mark.
        todo!("step 6: publish a batch")
    }

    /// Publish batches until `stop` completes; sleep `idle` when the outbox
    /// is empty; log and retry after a failure.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        // TODO(step 6): the relay loop.
        todo!("step 6: the relay loop")
    }
}
