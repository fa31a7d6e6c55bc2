//! Kafka for one test: its own topics and consumer groups.
//!
//! Topic and group names start with a per-test prefix, so parallel tests never
//! read each other's messages or steal each other's partitions.
//!
//! Topics are **not deleted** after a test. Their names are unique, so leftovers
//! are harmless, and deletion is not safe everywhere: on tansu 0.6.0 (the broker
//! CI uses without Docker) deleting one topic deletes every topic of the cluster,
//! which would pull the floor from under every test running in parallel. With
//! Docker the container goes away at exit; with a long-lived broker
//! (`docker/compose.yml`), `docker compose down -v` clears them.
//!
//! The code talks plain Kafka protocol through rdkafka, so it runs against Apache
//! Kafka (Docker) and against Kafka-compatible brokers alike. Where a test needs
//! facts about the broker — partitions, watermarks, committed offsets — it asks
//! through the client API rather than assuming broker internals.

use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::service::{self, Endpoint, Service};

pub struct TestKafka {
    endpoint: Endpoint,
    prefix: String,
}

impl TestKafka {
    /// Metadata from the broker must arrive within this.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Resolve Kafka (see [`crate::service`]) and check the broker answers.
    pub async fn new() -> anyhow::Result<TestKafka> {
        TestKafka::at(service::resolve(Service::Kafka).await?).await
    }

    pub async fn at(endpoint: Endpoint) -> anyhow::Result<TestKafka> {
        endpoint.probe().await?;
        let kafka = TestKafka {
            prefix: crate::unique::name("lab").replace('_', "-"),
            endpoint,
        };
        let consumer: BaseConsumer = kafka
            .client_config()
            .create()
            .context("creating a Kafka client")?;
        let describe = kafka.endpoint.describe();
        let limit = Self::CONNECT_TIMEOUT;
        // fetch_metadata blocks a thread; keep it off the async workers.
        let fetched =
            tokio::task::spawn_blocking(move || consumer.fetch_metadata(None, limit).map(|_| ()));
        crate::within(
            limit + Duration::from_secs(1),
            format!("metadata from {describe}"),
            fetched,
        )
        .await??
        .map_err(anyhow::Error::new)
        .with_context(|| {
            format!(
                "{describe} did not answer a metadata request; {}",
                kafka.endpoint.unreachable_help()
            )
        })?;
        Ok(kafka)
    }

    /// Comma-separated `host:port` list for `bootstrap.servers`.
    pub fn brokers(&self) -> &str {
        &self.endpoint.url
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A client configuration with the brokers set and timeouts short enough that
    /// a dead broker surfaces as an error in a test rather than a long stall.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.endpoint.url)
            .set("socket.timeout.ms", "10000")
            .set("message.timeout.ms", "10000");
        config
    }

    /// The full topic name this test uses for `name`.
    pub fn topic_name(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// A consumer group id private to this test.
    pub fn group_id(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Create `name` (prefixed) with `partitions` partitions, wait until the broker
    /// reports all of them, and return the full topic name.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> anyhow::Result<String> {
        let topic = self.topic_name(name);
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .context("creating a Kafka admin client")?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        let results = crate::within(
            Duration::from_secs(10),
            format!("creating topic {topic} on {}", self.endpoint.describe()),
            admin.create_topics(
                &[NewTopic::new(
                    &topic,
                    partitions,
                    TopicReplication::Fixed(1),
                )],
                &options,
            ),
        )
        .await??;
        for result in results {
            result.map_err(|(t, code)| {
                anyhow::anyhow!("broker refused to create topic {t}: {code}")
            })?;
        }

        // Creation is acknowledged before every partition has a leader; producing
        // before that fails, so wait until metadata shows them all.
        let config = self.client_config();
        let wanted = topic.clone();
        crate::eventually(
            Duration::from_secs(10),
            format!("topic {topic} to have {partitions} partitions"),
            move || {
                let config = config.clone();
                let wanted = wanted.clone();
                async move {
                    let found = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
                        let consumer: BaseConsumer = config.create()?;
                        let metadata =
                            consumer.fetch_metadata(Some(&wanted), Duration::from_secs(2))?;
                        Ok(metadata
                            .topics()
                            .iter()
                            .find(|t| t.name() == wanted && t.error().is_none())
                            .map(|t| {
                                t.partitions()
                                    .iter()
                                    .filter(|p| p.error().is_none() && p.leader() >= 0)
                                    .count()
                            })
                            .unwrap_or(0))
                    })
                    .await??;
                    Ok(found == partitions as usize)
                }
            },
        )
        .await?;
        Ok(topic)
    }
}

impl TestKafka {
    /// The offsets `group` has committed on each partition of `topic` (index =
    /// partition; `None` where nothing is committed), bounded by ten seconds.
    ///
    /// Asked through a fresh client that joins nothing: calling `committed_offsets`
    /// on a subscribed `StreamConsumer` was seen here to block past its own timeout,
    /// while a separate client in the same group answers at once. The blocking
    /// call runs on the blocking pool so the async runtime keeps going.
    pub async fn committed_offsets(
        &self,
        group: &str,
        topic: &str,
        partitions: i32,
    ) -> anyhow::Result<Vec<Option<i64>>> {
        let mut wanted = rdkafka::TopicPartitionList::new();
        for partition in 0..partitions {
            wanted.add_partition(topic, partition);
        }
        let client: BaseConsumer = self
            .client_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .context("creating a Kafka client to read committed offsets")?;
        let lookup = tokio::task::spawn_blocking(move || {
            client.committed_offsets(wanted, Duration::from_secs(5))
        });
        let list = crate::within(
            Duration::from_secs(10),
            format!("committed offsets of group {group} on {topic}"),
            lookup,
        )
        .await??
        .with_context(|| format!("reading committed offsets of group {group} on {topic}"))?;
        let mut offsets = vec![None; partitions as usize];
        for element in list.elements() {
            if let (rdkafka::Offset::Offset(offset), Ok(partition)) =
                (element.offset(), usize::try_from(element.partition()))
                && let Some(slot) = offsets.get_mut(partition)
            {
                *slot = Some(offset);
            }
        }
        Ok(offsets)
    }
}

impl Drop for TestKafka {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "labkit: the test failed; its Kafka topics and groups start with {} on {}",
                self.prefix,
                self.endpoint.describe()
            );
        }
    }
}
