//! The order consumer — reference.
//!
//! The at-least-once recipe, and where each part lives:
//!
//! 1. **Offsets move only after the effect, and only when we commit them.**
//!    `enable.auto.offset.store=false`: we store a record's offset after its
//!    transaction committed (or its dead letter was acknowledged), so what is
//!    stored is always already done. `enable.auto.commit=false`: we commit what
//!    is stored ourselves — every `commit_interval` in the background (one round
//!    trip per second, not per record), and synchronously on revocation and at
//!    shutdown. librdkafka's auto-commit would also commit on revocation and on
//!    close; owning the commits makes each one visible in this file, the same
//!    shape as a Java client's `commitAsync` in the loop and `commitSync` in
//!    `onPartitionsRevoked`.
//! 2. **One record at a time per consumer.** Records of a partition are applied
//!    in offset order, and nothing after a record is stored before it is done,
//!    so a committed offset never jumps over unfinished work.
//! 3. **Dedup in the effect's transaction.** `processed_events` gets the event
//!    id in the same transaction as the effect: both commit or neither does, so
//!    a redelivery finds the record and skips the effect.
//! 4. **Commit on revocation and on shutdown**, so a graceful rebalance or stop
//!    redelivers nothing.
//! 5. **Poison goes to a dead-letter topic; transient failures are retried.**
//!    Neither ever moves the offset past a record that is not done.
//!
//! Where duplicates still come from, and why that is fine: a crash between the
//! commit of the effect and the offset commit (at most `commit_interval` of
//! records under a `kill -9`; a dropped consumer still commits what it stored
//! as it closes), a member that lost its partitions by exceeding
//! `max.poll.interval.ms` or the session timeout (a "zombie" still finishing a
//! record), and producer retries without idempotence (the same event at two
//! offsets). Every one of them ends at the dedup record.

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

/// The consumer's librdkafka context: commits stored offsets when partitions
/// are taken away.
pub struct CommitOnRevoke;

impl ClientContext for CommitOnRevoke {}

impl ConsumerContext for CommitOnRevoke {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            // This runs inside `recv()`, i.e. between two records of our loop,
            // so every stored offset belongs to a finished record. Committing
            // them now (synchronously: the partitions must not move before the
            // broker has them) means the next owner starts exactly where we
            // stopped, and a graceful rebalance redelivers nothing.
            debug!(count = partitions.count(), "partitions revoked; committing");
            commit_stored(consumer, CommitMode::Sync, "on revocation");
        }
    }
}

/// Commit what is stored; "nothing stored" is not an error.
fn commit_stored<C: ConsumerContext>(consumer: &impl Consumer<C>, mode: CommitMode, when: &str) {
    match consumer.commit_consumer_state(mode) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        // The records stay uncommitted and will be redelivered: a duplicate,
        // which dedup absorbs, never a loss.
        Err(error) => warn!(%error, "committing offsets {when} failed"),
    }
}

pub struct OrderConsumer {
    consumer: StreamConsumer<CommitOnRevoke>,
    dead_letters: FutureProducer,
    pool: PgPool,
    config: ConsumerConfig,
    probe: Probe,
}

impl OrderConsumer {
    /// Join `config.group_id` and subscribe to `config.topic`. Records are
    /// fetched once [`OrderConsumer::run`] runs.
    pub fn new(config: ConsumerConfig, pool: PgPool, probe: Probe) -> Result<OrderConsumer> {
        let consumer: StreamConsumer<CommitOnRevoke> = config
            .kafka()
            .set("group.id", &config.group_id)
            // A new group starts at the oldest record: nothing produced before
            // the first member joined is skipped.
            .set("auto.offset.reset", "earliest")
            // The line that makes this at-least-once: without it librdkafka
            // stores each offset as the record is handed to us, and the next
            // commit marks it done whether or not we ever applied it.
            .set("enable.auto.offset.store", "false")
            // We commit (see `run` and `CommitOnRevoke`), so that every commit
            // is one we chose.
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            .create_with_context(CommitOnRevoke)?;
        consumer.subscribe(&[&config.topic])?;
        let dead_letters: FutureProducer = config
            .kafka()
            // A retried dead letter is not written twice.
            .set("enable.idempotence", "true")
            .create()?;
        Ok(OrderConsumer {
            consumer,
            dead_letters,
            pool,
            config,
            probe,
        })
    }

    /// Apply records until `stop` completes, then commit what is done and
    /// leave the group. Only an error storing offsets ends it early; database
    /// and broker trouble is retried.
    pub async fn run(self, stop: impl Future<Output = ()>) -> Result<()> {
        // Two futures on this one task: the receive loop, and the background
        // commit, which keeps going while a record is stuck (a database outage
        // can hold one for minutes; what finished before it should not wait).
        let result = tokio::select! {
            result = self.receive(stop) => result,
            never = self.commit_periodically() => match never {},
        };
        // Closing the consumer (on drop) revokes its partitions, so
        // `CommitOnRevoke` would commit them anyway; this commit is the one a
        // client without a rebalance callback depends on, and costs nothing.
        commit_stored(&self.consumer, CommitMode::Sync, "at shutdown");
        // Dropping the consumer closes it: it leaves the group at once, so its
        // partitions move without waiting for the session timeout.
        result
    }

    /// One record at a time, until `stop`.
    async fn receive(&self, stop: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(stop);
        loop {
            // `stop` is checked only between records: a record that started is
            // finished (or, on a crash, redelivered), never half-done.
            let received = tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                received = self.consumer.recv() => received,
            };
            match received {
                Ok(message) => self.handle(&message).await?,
                Err(error) => {
                    // Broker-level errors (a lost connection, a coordinator
                    // moving) are reported here and healed by librdkafka.
                    warn!(%error, "the consumer reported an error; carrying on");
                    tokio::time::sleep(self.config.retry_initial).await;
                }
            }
        }
    }

    /// Every `commit_interval`, commit what is stored. Asynchronously: nothing
    /// waits for the broker, and a commit that fails is overtaken by the next
    /// one (what it would have committed is redelivered at worst). Everything
    /// stored is finished, so committing mid-record is safe.
    async fn commit_periodically(&self) -> std::convert::Infallible {
        let mut tick = tokio::time::interval(self.config.commit_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            commit_stored(&self.consumer, CommitMode::Async, "in the background");
        }
    }

    /// One record, start to finish.
    async fn handle(&self, message: &BorrowedMessage<'_>) -> Result<()> {
        let (partition, offset) = (message.partition(), message.offset());
        match OrderEvent::decode(message.payload()) {
            Ok(event) => {
                self.probe
                    .reached(Point::Received {
                        partition,
                        offset,
                        event_id: Some(event.event_id.clone()),
                    })
                    .await;
                let duplicate = self.apply_with_retry(&event, partition, offset).await;
                self.probe
                    .reached(Point::Applied {
                        partition,
                        offset,
                        event_id: event.event_id,
                        duplicate,
                    })
                    .await;
            }
            Err(reason) => {
                self.probe
                    .reached(Point::Received {
                        partition,
                        offset,
                        event_id: None,
                    })
                    .await;
                self.dead_letter_with_retry(message, &reason).await;
                self.probe
                    .reached(Point::DeadLettered { partition, offset })
                    .await;
            }
        }
        // Only now is the record done. This stores offset + 1 (librdkafka adds
        // the one: a committed offset names the next record to read), so the
        // next commit moves past this record and no further.
        self.consumer.store_offset_from_message(message)?;
        Ok(())
    }

    /// Apply until it works. Every database error is treated as transient: the
    /// effect is plain inserts and updates of validated data, so what fails
    /// here is the connection, a timeout or a deadlock. The partition waits
    /// (head-of-line blocking) rather than skip; consumer lag is the alarm.
    /// Production would classify SQLSTATEs and send a record that can never
    /// apply to the dead-letter topic, and would watch `max.poll.interval.ms`
    /// (librdkafka leaves the group if `recv` is not called within it).
    async fn apply_with_retry(&self, event: &OrderEvent, partition: i32, offset: i64) -> bool {
        let mut pause = self.config.retry_initial;
        loop {
            let attempt = self.apply(event, partition, offset);
            match bounded("applying an event", self.config.io_timeout, attempt).await {
                Ok(duplicate) => return duplicate,
                Err(error) => {
                    warn!(%error, event_id = %event.event_id, ?pause, "applying failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.config.retry_max);
                }
            }
        }
    }

    /// The dedup record and the effect, in one transaction. Returns whether
    /// the event was a duplicate (effect skipped).
    async fn apply(&self, event: &OrderEvent, partition: i32, offset: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // If another member is applying the same event right now (a zombie
        // after a rebalance), this insert waits for its transaction and then
        // does nothing: still exactly one effect.
        let first = sqlx::query(
            "INSERT INTO processed_events (event_id, partition, kafka_offset)
             VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&event.event_id)
        .bind(partition)
        .bind(offset)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if first {
            effects::apply(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(!first)
    }

    /// Publish the record, untouched, to the dead-letter topic until the
    /// broker acknowledges it. A dead-letter outage stalls the partition, like
    /// a database outage: dropping the record is never the fallback.
    async fn dead_letter_with_retry(&self, message: &BorrowedMessage<'_>, reason: &PoisonReason) {
        let mut pause = self.config.retry_initial;
        loop {
            match self.dead_letter(message, reason).await {
                Ok(()) => return,
                Err(error) => {
                    warn!(%error, ?pause, "dead-lettering failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.config.retry_max);
                }
            }
        }
    }

    async fn dead_letter(
        &self,
        message: &BorrowedMessage<'_>,
        reason: &PoisonReason,
    ) -> Result<()> {
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let error = reason.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "lab.original.topic",
                value: Some(message.topic()),
            })
            .insert(Header {
                key: "lab.original.partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "lab.original.offset",
                value: Some(&offset),
            })
            .insert(Header {
                key: "lab.error",
                value: Some(&error),
            });
        // The original bytes and key, exactly: whoever repairs the record must
        // see what was produced, not our reading of it.
        let mut record =
            FutureRecord::<[u8], [u8]>::to(&self.config.dead_letter_topic).headers(headers);
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        let limit = self.config.io_timeout;
        let delivery = self.dead_letters.send(record, Timeout::After(limit));
        match tokio::time::timeout(limit + limit, delivery).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(LabError::Kafka(error)),
            Err(_) => Err(LabError::Timeout {
                what: "a dead-letter delivery",
                limit,
            }),
        }
    }
}
