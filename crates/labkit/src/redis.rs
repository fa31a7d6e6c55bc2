//! Redis for one test: a connection and a key prefix no other test uses.
//!
//! Redis has no cheap "database per test" (sixteen numbered databases are not
//! enough for a parallel suite), so isolation is by key prefix: every key a test
//! or the code under test writes starts with [`TestRedis::prefix`]. A passing test
//! deletes its keys; a failing one keeps them and prints the prefix.

use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::service::{self, Endpoint, Service};

pub struct TestRedis {
    endpoint: Endpoint,
    client: redis::Client,
    prefix: String,
}

impl TestRedis {
    /// Connecting, and the first PING, must succeed within this.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Resolve Redis (see [`crate::service`]), check it answers, and pick a prefix.
    pub async fn new() -> anyhow::Result<TestRedis> {
        TestRedis::at(service::resolve(Service::Redis).await?).await
    }

    /// Use a given Redis endpoint.
    pub async fn at(endpoint: Endpoint) -> anyhow::Result<TestRedis> {
        endpoint.probe().await?;
        let client = redis::Client::open(endpoint.url.as_str())
            .with_context(|| format!("{} is not a valid Redis URL", endpoint.describe()))?;
        let redis = TestRedis {
            prefix: format!("{}:", crate::unique::name("lab")),
            endpoint,
            client,
        };
        let mut conn = redis.connection().await?;
        let pong: String = crate::within(
            Self::CONNECT_TIMEOUT,
            format!("PING to {}", redis.endpoint.describe()),
            redis::cmd("PING").query_async(&mut conn),
        )
        .await?
        .with_context(|| format!("PING to {}", redis.endpoint.describe()))?;
        anyhow::ensure!(
            pong == "PONG",
            "{} answered PING with {pong:?}",
            redis.endpoint.describe()
        );
        Ok(redis)
    }

    /// A new connection manager (reconnects by itself) to this Redis, with
    /// labkit's timeouts. Each call is a separate TCP connection.
    pub async fn connection(&self) -> anyhow::Result<ConnectionManager> {
        connect(&self.endpoint.url).await.with_context(|| {
            format!(
                "{}; {}",
                self.endpoint.describe(),
                self.endpoint.unreachable_help()
            )
        })
    }

    /// The prefix every key of this test must start with (ends in `:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `prefix + name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if std::thread::panicking() && crate::cleanup::keep_failed() {
            eprintln!(
                "labkit: the test failed, so its Redis keys are kept: redis-cli -u {} --scan --pattern '{}*'",
                self.endpoint.url, self.prefix
            );
            return;
        }
        let client = self.client.clone();
        let pattern = format!("{}*", self.prefix);
        crate::cleanup::run_blocking(
            format!("Redis keys {pattern}"),
            Duration::from_secs(10),
            async move {
                let mut conn = client.get_multiplexed_async_connection().await?;
                let mut cursor: u64 = 0;
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500)
                        .query_async(&mut conn)
                        .await?;
                    if !keys.is_empty() {
                        redis::cmd("DEL")
                            .arg(&keys)
                            .query_async::<()>(&mut conn)
                            .await?;
                    }
                    if next == 0 {
                        return Ok(());
                    }
                    cursor = next;
                }
            },
        );
    }
}

/// labkit's connection settings: a connection attempt gives up after 2 s and a
/// command after 5 s, and reconnection retries are few and short, so a dead Redis
/// shows up as an error in seconds rather than a hang.
pub fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

/// Connect a [`ConnectionManager`] to `url` with [`manager_config`], within
/// [`TestRedis::CONNECT_TIMEOUT`]. Use it for URLs that go through a
/// [`crate::FaultProxy`].
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    connect_with(url, manager_config()).await
}

/// Like [`connect`] with your own settings.
pub async fn connect_with(
    url: &str,
    config: ConnectionManagerConfig,
) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).with_context(|| format!("invalid Redis URL {url}"))?;
    crate::within(
        TestRedis::CONNECT_TIMEOUT,
        format!("a connection to Redis at {url}"),
        ConnectionManager::new_with_config(client, config),
    )
    .await?
    .with_context(|| format!("could not connect to Redis at {url}"))
}
