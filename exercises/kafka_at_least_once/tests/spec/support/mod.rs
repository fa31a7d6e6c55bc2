//! A test's own database, topics and group; a recording probe that can crash
//! your code at an exact point; and the readers the assertions use.

#![allow(dead_code)] // not every step uses every helper

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use kafka_at_least_once::{
    ConsumerConfig, OrderConsumer, OrderEvent, Point, Probe, Relay, RelayConfig, schema,
};
use labkit::{TestDb, TestKafka};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any "all of it was applied" wait may take. Generous: a consumer
/// group join and a rebalance take seconds, and verify runs many suites at
/// once on two cores. A correct answer finishes far sooner.
pub const SETTLE: Duration = Duration::from_secs(60);

/// How long a test gives your code to do something it must *not* do (apply a
/// later record while an earlier one is stuck) before moving on. Only the
/// wrong answers are ever fast enough to be caught by it; a right answer just
/// costs the test this much time.
pub const GRACE: Duration = Duration::from_millis(1500);

/// Every point every incarnation reached, tagged with the incarnation's name.
#[derive(Clone, Default)]
pub struct Recorder {
    points: Arc<Mutex<Vec<(String, Point)>>>,
    crash: Arc<Mutex<Option<Crash>>>,
}

struct Crash {
    when: Box<dyn Fn(&Point) -> bool + Send>,
    fired: oneshot::Sender<Point>,
}

impl Recorder {
    fn probe(&self, name: &str) -> Probe {
        let recorder = self.clone();
        let name = name.to_owned();
        Probe::new(move |point: Point| {
            let recorder = recorder.clone();
            let name = name.clone();
            async move {
                recorder
                    .points
                    .lock()
                    .expect("recorder lock")
                    .push((name, point.clone()));
                let armed = {
                    let mut crash = recorder.crash.lock().expect("crash lock");
                    match crash.as_ref() {
                        Some(c) if (c.when)(&point) => crash.take(),
                        _ => None,
                    }
                };
                if let Some(crash) = armed {
                    let _ = crash.fired.send(point);
                    // The simulated crash: this code never runs again; the
                    // test aborts the task while it waits here.
                    std::future::pending::<()>().await;
                }
            }
        })
    }

    /// The next time a point matching `when` is reached, hang there and tell
    /// the receiver.
    pub fn arm(&self, when: impl Fn(&Point) -> bool + Send + 'static) -> oneshot::Receiver<Point> {
        let (fired, rx) = oneshot::channel();
        *self.crash.lock().expect("crash lock") = Some(Crash {
            when: Box::new(when),
            fired,
        });
        rx
    }

    pub fn points(&self) -> Vec<(String, Point)> {
        self.points.lock().expect("recorder lock").clone()
    }

    /// How many times each event was delivered (`Received`), over every
    /// incarnation.
    pub fn deliveries(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (_, point) in self.points() {
            if let Point::Received {
                event_id: Some(id), ..
            } = point
            {
                *counts.entry(id).or_default() += 1;
            }
        }
        counts
    }

    pub fn received_by(&self, name: &str) -> usize {
        self.points()
            .iter()
            .filter(|(n, p)| n == name && matches!(p, Point::Received { .. }))
            .count()
    }
}

/// One running consumer or relay.
pub struct Running {
    pub name: String,
    handle: Option<JoinHandle<kafka_at_least_once::error::Result<()>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Running {
    fn spawn<F>(name: &str, run: impl FnOnce(oneshot::Receiver<()>) -> F) -> Running
    where
        F: Future<Output = kafka_at_least_once::error::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Running {
            name: name.to_owned(),
            handle: Some(tokio::spawn(run(stopped))),
            stop: Some(stop),
        }
    }

    /// Fail now, with the reason, if the task already ended: a consumer or
    /// relay must keep running until it is stopped.
    pub async fn check_alive(&mut self) -> anyhow::Result<()> {
        if self.handle.as_ref().is_some_and(|h| h.is_finished()) {
            let handle = self.handle.take().expect("checked above");
            return Err(match handle.await {
                Ok(Ok(())) => anyhow::anyhow!("{} returned before it was stopped", self.name),
                Ok(Err(e)) => anyhow::anyhow!("{} failed: {e}", self.name),
                Err(e) => anyhow::anyhow!("{} panicked: {e}", self.name),
            });
        }
        Ok(())
    }

    /// Wait for the crash armed with [`Recorder::arm`], then abort the task
    /// right there: no code after the probe point runs.
    pub async fn crash_at(&mut self, fired: oneshot::Receiver<Point>) -> anyhow::Result<Point> {
        let label = format!(
            "{} to reach the point the test crashes it at (does your code call \
             probe.reached(Point::..) there? README step 2 and probe.rs)",
            self.name
        );
        let point = {
            let wait = async {
                tokio::pin!(fired);
                loop {
                    tokio::select! {
                        point = &mut fired => return point.context("the crash was disarmed"),
                        () = tokio::time::sleep(Duration::from_millis(50)) => self.check_alive().await?,
                    }
                }
            };
            labkit::within(SETTLE, label, wait).await??
        };
        self.abort().await?;
        Ok(point)
    }

    /// Kill the task wherever it is (dropping everything it owns).
    pub async fn abort(&mut self) -> anyhow::Result<()> {
        if let Some(handle) = self.handle.take() {
            handle.abort();
            let _ =
                labkit::within(Duration::from_secs(30), "the aborted task to end", handle).await?;
        }
        Ok(())
    }

    /// Ask it to stop, and wait for it to finish cleanly.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let handle = self.handle.take().context("already stopped")?;
        let name = self.name.clone();
        labkit::within(Duration::from_secs(30), format!("{name} to stop"), handle)
            .await?
            .with_context(|| format!("{name} panicked"))?
            .with_context(|| format!("{name} returned an error when stopped"))?;
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

/// A produced record's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub partition: i32,
    pub offset: i64,
}

/// What a test reads back from a topic.
#[derive(Clone, Debug)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: BTreeMap<String, String>,
}

pub struct Lab {
    pub db: TestDb,
    pub kafka: TestKafka,
    pub topic: String,
    pub dead_letters: String,
    pub group: String,
    pub partitions: i32,
    pub recorder: Recorder,
    producer: FutureProducer,
}

impl Lab {
    /// A pool of `max` connections to the test's database through a fault
    /// proxy the test controls, giving up on a connection after
    /// `acquire_timeout` (so an outage is a quick error, not a long wait).
    pub async fn pool_through_a_proxy(
        &self,
        max: u32,
        acquire_timeout: Duration,
    ) -> anyhow::Result<(labkit::FaultProxy, sqlx::PgPool)> {
        let proxy = labkit::FaultProxy::for_url(self.db.url()).await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(acquire_timeout)
            .connect(proxy.url())
            .await
            .with_context(|| format!("Postgres through the fault proxy at {}", proxy.url()))?;
        Ok((proxy, pool))
    }

    /// A database with the schema, an `orders` topic with `partitions`
    /// partitions, a one-partition dead-letter topic and a group name.
    pub async fn new(partitions: i32) -> anyhow::Result<Lab> {
        labkit::init_tracing();
        let db = TestDb::new().await?;
        schema::create(db.pool()).await?;
        let kafka = TestKafka::new().await?;
        let topic = kafka.create_topic("orders", partitions).await?;
        let dead_letters = kafka.create_topic("orders-dlt", 1).await?;
        let group = kafka.group_id("billing");
        let producer = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .create()
            .context("creating the test's producer")?;
        Ok(Lab {
            db,
            kafka,
            topic,
            dead_letters,
            group,
            partitions,
            recorder: Recorder::default(),
            producer,
        })
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    pub fn config(&self) -> ConsumerConfig {
        ConsumerConfig::new(
            self.kafka.brokers(),
            &self.topic,
            &self.group,
            &self.dead_letters,
        )
    }

    /// Start a consumer called `name` on its own pool (as a separate process
    /// would have), recorded by this lab's probe.
    pub async fn start(&self, name: &str) -> anyhow::Result<Running> {
        let pool = self.db.new_pool(4).await?;
        self.start_on(name, pool)
    }

    /// Start a consumer with an adjusted configuration.
    pub async fn start_with(
        &self,
        name: &str,
        adjust: impl FnOnce(&mut ConsumerConfig),
    ) -> anyhow::Result<Running> {
        let pool = self.db.new_pool(4).await?;
        let mut config = self.config();
        adjust(&mut config);
        self.start_configured(name, pool, config)
    }

    pub fn start_on(&self, name: &str, pool: PgPool) -> anyhow::Result<Running> {
        self.start_configured(name, pool, self.config())
    }

    pub fn start_configured(
        &self,
        name: &str,
        pool: PgPool,
        config: ConsumerConfig,
    ) -> anyhow::Result<Running> {
        let consumer = OrderConsumer::new(config, pool, self.recorder.probe(name))
            .context("OrderConsumer::new failed")?;
        Ok(Running::spawn(name, |stop| async move {
            consumer
                .run(async move {
                    let _ = stop.await;
                })
                .await
        }))
    }

    pub fn relay_config(&self) -> RelayConfig {
        RelayConfig::new(self.kafka.brokers(), &self.topic)
    }

    pub async fn start_relay(&self, name: &str) -> anyhow::Result<Running> {
        let pool = self.db.new_pool(2).await?;
        let relay = Relay::new(self.relay_config(), pool, self.recorder.probe(name))
            .context("Relay::new failed")?;
        Ok(Running::spawn(name, |stop| async move {
            relay
                .run(async move {
                    let _ = stop.await;
                })
                .await
        }))
    }

    /// Produce each event keyed by its order id (the key picks the partition,
    /// as in production) and return where each landed.
    pub async fn produce(&self, events: &[OrderEvent]) -> anyhow::Result<Vec<Sent>> {
        let mut sent = Vec::new();
        for event in events {
            let payload = event.encode();
            let record = FutureRecord::to(&self.topic)
                .key(&event.order_id)
                .payload(&payload);
            sent.push(self.send(record).await?);
        }
        Ok(sent)
    }

    /// Produce raw payloads to one partition, in order, the i-th keyed `raw-<i>`.
    pub async fn produce_raw(
        &self,
        partition: i32,
        payloads: &[Vec<u8>],
    ) -> anyhow::Result<Vec<Sent>> {
        let records: Vec<Option<Vec<u8>>> = payloads.iter().cloned().map(Some).collect();
        self.produce_records(partition, &records).await
    }

    /// Like [`Lab::produce_raw`], where `None` is a record with no payload at
    /// all (a tombstone).
    pub async fn produce_records(
        &self,
        partition: i32,
        payloads: &[Option<Vec<u8>>],
    ) -> anyhow::Result<Vec<Sent>> {
        let mut sent = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            let key = format!("raw-{i}");
            let mut record = FutureRecord::to(&self.topic).partition(partition).key(&key);
            if let Some(payload) = payload {
                record = record.payload(payload);
            }
            sent.push(self.send(record).await?);
        }
        Ok(sent)
    }

    /// Produce events to one partition, in order.
    pub async fn produce_to(
        &self,
        partition: i32,
        events: &[OrderEvent],
    ) -> anyhow::Result<Vec<Sent>> {
        let payloads: Vec<Vec<u8>> = events.iter().map(OrderEvent::encode).collect();
        self.produce_raw(partition, &payloads).await
    }

    async fn send(&self, record: FutureRecord<'_, String, Vec<u8>>) -> anyhow::Result<Sent> {
        let delivery = self
            .producer
            .send(record, Timeout::After(Duration::from_secs(10)));
        let (partition, offset) = match labkit::within(
            Duration::from_secs(15),
            "a produce acknowledgement",
            delivery,
        )
        .await?
        {
            Ok(delivery) => (delivery.partition, delivery.offset),
            Err((e, _)) => return Err(anyhow::Error::new(e).context("producing a test record")),
        };
        Ok(Sent { partition, offset })
    }

    /// How many times each event's effect was applied (rows in `effect_log`).
    pub async fn applications(&self) -> anyhow::Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT event_id, count(*) FROM effect_log GROUP BY event_id")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// Event ids in the order their effects were applied.
    pub async fn application_order(&self) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT event_id FROM effect_log ORDER BY id")
                .fetch_all(self.pool())
                .await?,
        )
    }

    pub async fn totals(&self) -> anyhow::Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT customer, total_cents FROM customer_totals WHERE events > 0")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// Wait until some incarnation has received (decoded, or found poison in)
    /// the record with this event id; `None` is a record that is not an event.
    pub async fn until_received(&self, event_id: Option<&str>) -> anyhow::Result<()> {
        labkit::eventually(
            SETTLE,
            format!("the consumer to receive the record with event id {event_id:?}"),
            || {
                let received = self.recorder.points().iter().any(|(_, p)| {
                    matches!(p, Point::Received { event_id: id, .. } if id.as_deref() == event_id)
                });
                async move { Ok(received) }
            },
        )
        .await
    }

    /// Wait until every one of `events` has been applied at least once, while
    /// checking that each of `running` is still alive.
    pub async fn until_applied(
        &self,
        events: &[OrderEvent],
        running: &mut [&mut Running],
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            for r in running.iter_mut() {
                r.check_alive().await?;
            }
            let applied = self.applications().await?;
            let missing: Vec<&str> = events
                .iter()
                .filter(|e| !applied.contains_key(&e.event_id))
                .map(|e| e.event_id.as_str())
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "after {SETTLE:?}, {} of {} events were never applied (first: {:?}). \
                     An event whose offset was committed before its effect is lost for good.",
                    missing.len(),
                    events.len(),
                    &missing[..missing.len().min(5)]
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait up to [`GRACE`] for `check` to become true; `Ok(true)` if it did.
    /// Used only for things a right answer never does.
    pub async fn briefly(
        &self,
        mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
    ) -> anyhow::Result<bool> {
        let deadline = tokio::time::Instant::now() + GRACE;
        while tokio::time::Instant::now() < deadline {
            if check().await? {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        check().await
    }

    /// The group's committed offsets (index = partition).
    pub async fn committed(&self) -> anyhow::Result<Vec<Option<i64>>> {
        self.kafka
            .committed_offsets(&self.group, &self.topic, self.partitions)
            .await
    }

    /// Wait until the group has committed, on every partition, the offset
    /// after the last record `sent` put there.
    pub async fn until_committed_to_the_end(&self, sent: &[Sent]) -> anyhow::Result<()> {
        let mut ends = vec![None; self.partitions as usize];
        for s in sent {
            let end = &mut ends[s.partition as usize];
            *end = Some(end.unwrap_or(0).max(s.offset + 1));
        }
        let mut last = Vec::new();
        let deadline = tokio::time::Instant::now() + SETTLE;
        while tokio::time::Instant::now() < deadline {
            last = self.committed().await?;
            let done = ends
                .iter()
                .zip(&last)
                .all(|(end, committed)| end.is_none() || committed >= end);
            if done {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!(
            "the group's committed offsets are {last:?}, expected at least {ends:?}: \
             every applied record's offset must be committed eventually (README step 1)"
        )
    }

    /// Hold a row lock on `customer`'s total, so the effect of any event of
    /// that customer blocks inside its transaction until [`Held::release`].
    pub async fn hold(&self, customer: &str) -> anyhow::Result<Held> {
        sqlx::query(
            "INSERT INTO customer_totals (customer, total_cents, events) VALUES ($1, 0, 0)
             ON CONFLICT DO NOTHING",
        )
        .bind(customer)
        .execute(self.pool())
        .await?;
        let mut conn = PgConnection::connect(self.db.url()).await?;
        sqlx::query("BEGIN").execute(&mut conn).await?;
        sqlx::query("SELECT 1 FROM customer_totals WHERE customer = $1 FOR UPDATE")
            .bind(customer)
            .execute(&mut conn)
            .await?;
        Ok(Held { conn })
    }

    /// Wait until some session of this database waits for a lock.
    pub async fn until_someone_waits_for_a_lock(&self) -> anyhow::Result<()> {
        let pool = self.pool().clone();
        labkit::eventually(
            SETTLE,
            "an effect to wait for the held row lock",
            move || {
                let pool = pool.clone();
                async move {
                    let waiting: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .fetch_one(&pool)
                    .await?;
                    Ok(waiting > 0)
                }
            },
        )
        .await
    }

    /// Every record on `topic` (all `partitions`), from the beginning up to the
    /// high watermarks as they are now.
    pub async fn read_topic(&self, topic: &str, partitions: i32) -> anyhow::Result<Vec<Record>> {
        let consumer: BaseConsumer = self
            .kafka
            .client_config()
            .set("group.id", self.kafka.group_id("reader"))
            .set("enable.auto.commit", "false")
            .create()?;
        let topic = topic.to_owned();
        let read = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Record>> {
            let mut ends = Vec::new();
            let mut assignment = TopicPartitionList::new();
            for p in 0..partitions {
                let (_, high) = consumer.fetch_watermarks(&topic, p, Duration::from_secs(5))?;
                ends.push(high);
                assignment.add_partition_offset(&topic, p, Offset::Beginning)?;
            }
            consumer.assign(&assignment)?;
            let mut next = vec![0_i64; partitions as usize];
            let mut records = Vec::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while next.iter().zip(&ends).any(|(n, end)| n < end) {
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "reading {topic}: got to {next:?} of {ends:?} within 30 s"
                );
                let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let message = message?;
                let mut headers = BTreeMap::new();
                if let Some(h) = message.headers() {
                    for header in h.iter() {
                        let value = header
                            .value
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default();
                        headers.insert(header.key.to_owned(), value);
                    }
                }
                next[message.partition() as usize] = message.offset() + 1;
                records.push(Record {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec),
                    headers,
                });
            }
            Ok(records)
        });
        labkit::within(Duration::from_secs(40), "reading a topic", read).await??
    }
}

/// A transaction holding a row lock, until released (or dropped).
pub struct Held {
    conn: PgConnection,
}

impl Held {
    pub async fn release(mut self) -> anyhow::Result<()> {
        sqlx::query("ROLLBACK").execute(&mut self.conn).await?;
        Ok(())
    }
}

/// `n` events over `customers` customers, each its own order; ids are
/// `{tag}{i}`.
pub fn events(tag: &str, n: usize, customers: usize) -> Vec<OrderEvent> {
    (0..n)
        .map(|i| {
            OrderEvent::placed(
                &format!("{tag}{i}"),
                &format!("order-{tag}{i}"),
                &format!("customer-{}", i % customers.max(1)),
                100 + i as i64,
            )
        })
        .collect()
}

/// The totals that applying each of `events` exactly once gives.
pub fn expected_totals(events: &[OrderEvent]) -> BTreeMap<String, i64> {
    let mut totals = BTreeMap::new();
    for e in events {
        *totals.entry(e.customer.clone()).or_default() += e.delta_cents();
    }
    totals
}

/// A small deterministic generator, seeded per test run and printed, so a
/// failing random schedule can be replayed with `LAB_SEED=<n>`.
pub struct Rng(u64);

impl Rng {
    pub fn from_env_or_time() -> Rng {
        let seed = std::env::var("LAB_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
                    | 1
            });
        eprintln!("random crash schedule: LAB_SEED={seed}");
        Rng(seed)
    }

    pub fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// Crash the consumer `rounds` times at random points — on a random event not
/// yet applied, either just after it was received (before its effect) or just
/// after its effect committed (before its offset is stored) — restarting it
/// each time, then run it to the end. Returns the consumer still running.
pub async fn crash_randomly(
    lab: &Lab,
    events: &[OrderEvent],
    rounds: usize,
) -> anyhow::Result<Running> {
    let mut rng = Rng::from_env_or_time();
    for round in 0..rounds {
        let applied = lab.applications().await?;
        let pending: Vec<&OrderEvent> = events
            .iter()
            .filter(|e| !applied.contains_key(&e.event_id))
            .collect();
        let Some(target) = pending.get(rng.below(pending.len())) else {
            break;
        };
        let target = target.event_id.clone();
        let after_effect = rng.below(2) == 1;
        let fired = lab.recorder.arm(move |point| match point {
            Point::Received {
                event_id: Some(id), ..
            } => !after_effect && *id == target,
            Point::Applied { event_id, .. } => after_effect && *event_id == target,
            _ => false,
        });
        let mut consumer = lab.start(&format!("incarnation-{round}")).await?;
        consumer.crash_at(fired).await?;
    }
    lab.start("last").await
}
