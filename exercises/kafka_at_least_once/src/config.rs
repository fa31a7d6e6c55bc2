// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! Knobs for the consumer and the relay (provided).

use std::time::Duration;

use rdkafka::ClientConfig;

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topic of order events.
    pub topic: String,
    /// The consumer group: every member with this id shares the partitions.
    pub group_id: String,
    /// Where poison records go (step 5).
    pub dead_letter_topic: String,
    /// First pause after a failed database attempt; doubled after each
    /// failure up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Bound on one database transaction, and on one dead-letter delivery.
    pub io_timeout: Duration,
    /// How often the consumer commits the offsets it stored, in the background
    /// (asynchronously). It also commits, synchronously, when partitions are
    /// revoked and when it stops; the step-4 tests set this to an hour, so
    /// those are the only commits they see.
    pub commit_interval: Duration,
}

impl ConsumerConfig {
    pub fn new(brokers: &str, topic: &str, group_id: &str, dead_letter_topic: &str) -> Self {
        ConsumerConfig {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            group_id: group_id.to_owned(),
            dead_letter_topic: dead_letter_topic.to_owned(),
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_secs(1),
            io_timeout: Duration::from_secs(5),
            commit_interval: Duration::from_secs(1),
        }
    }

    /// The client settings every Kafka client here starts from: the brokers,
    /// and network timeouts short enough that a dead broker is an error in
    /// seconds. Add the consumer or producer settings on top.
    pub fn kafka(&self) -> ClientConfig {
        base_client(&self.brokers)
    }
}

#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub brokers: String,
    /// The topic the relay publishes order events to.
    pub topic: String,
    /// Outbox rows per batch.
    pub batch_size: i64,
    /// How long `run` sleeps when the outbox is empty.
    pub idle: Duration,
    /// Bound on one database statement and on one batch's acknowledgements.
    pub io_timeout: Duration,
}

impl RelayConfig {
    pub fn new(brokers: &str, topic: &str) -> Self {
        RelayConfig {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            batch_size: 10,
            idle: Duration::from_millis(50),
            io_timeout: Duration::from_secs(10),
        }
    }

    pub fn kafka(&self) -> ClientConfig {
        base_client(&self.brokers)
    }
}

fn base_client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("socket.timeout.ms", "10000")
        .set("message.timeout.ms", "10000");
    config
}

/// A new order, as the order service receives it (step 6).
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub order_id: String,
    pub customer: String,
    pub amount_cents: i64,
}
