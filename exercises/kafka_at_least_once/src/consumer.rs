//! The order consumer: yours to write.
//!
//! One consumer-group member that applies order events to Postgres with
//! at-least-once delivery and exactly-once effects. Read the README's steps
//! first; each `TODO(step N)` below says what that step adds.

use std::future::Future;

use rdkafka::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use sqlx::PgPool;
use tracing::{debug, warn};

use crate::config::ConsumerConfig;
use crate::effects;
use crate::error::{LabError, Result, bounded};
use crate::event::{OrderEvent, PoisonReason};
use crate::probe::{Point, Probe};

/// The consumer's librdkafka context, created with
/// `create_with_context(CommitOnRevoke)`.
pub struct CommitOnRevoke;

impl ClientContext for CommitOnRevoke {}

impl ConsumerContext for CommitOnRevoke {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // TODO(step 4): when partitions are revoked, commit the offsets you
        // stored — synchronously, before they move to another member.
    }
}

pub struct OrderConsumer {
    consumer: StreamConsumer<CommitOnRevoke>,
    /// Produces to the dead-letter topic (step 5).
    dead_letters: FutureProducer,
    pool: PgPool,
    config: ConsumerConfig,
    probe: Probe,
}

impl OrderConsumer {
    /// Join `config.group_id`, subscribe to `config.topic`, and build the
    /// dead-letter producer. Start from `config.kafka()`.
    pub fn new(config: ConsumerConfig, pool: PgPool, probe: Probe) -> Result<OrderConsumer> {
        // TODO(step 1): the consumer settings that make offsets move only
        // after the effect and only when you commit them (no automatic store,
        // no automatic commit); a new group starts at the oldest record.
        todo!("step 1: create the consumer and the dead-letter producer")
    }

    /// Apply records until `stop` completes, then commit what is done and
    /// leave the group. Database and broker trouble is retried, not returned.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        // TODO(step 1): receive records one at a time and handle each; check
        // `stop` only between records. Every `config.commit_interval`, commit
        // what you stored (asynchronously); on stop, commit it synchronously.
        todo!("step 1: the receive loop")
    }

    /// One record, start to finish.
    async fn handle(&self, message: &BorrowedMessage<'_>) -> Result<()> {
        // TODO(step 1): decode, apply, and only then store the offset.
        // TODO(step 2): call self.probe.reached(Point::Received { .. }) once the
        // record is decoded, and Point::Applied { .. } once its transaction
        // committed — before you store the offset.
        // TODO(step 5): a record that does not decode goes to the dead-letter
        // topic (then Point::DeadLettered), and the partition moves on.
        todo!("step 1: handle one record")
    }

    /// Apply one event in one transaction; returns whether it was a duplicate.
    async fn apply(&self, event: &OrderEvent, partition: i32, offset: i64) -> Result<bool> {
        // TODO(step 1): begin; effects::apply(&mut tx, event); commit.
        // TODO(step 3): in the same transaction, record the event in
        // processed_events and skip the effect if it was already there.
        todo!("step 1: apply an event")
    }

    /// Publish the record, untouched, to the dead-letter topic with headers
    /// `lab.original.topic`, `lab.original.partition`, `lab.original.offset`
    /// and `lab.error`, and wait for the broker's acknowledgement.
    async fn dead_letter(
        &self,
        message: &BorrowedMessage<'_>,
        reason: &PoisonReason,
    ) -> Result<()> {
        // TODO(step 5): produce the dead letter; retry (with backoff) until it
        // is acknowledged, like a database failure.
        todo!("step 5: dead-letter a poison record")
    }
}
