//! What does commit-after-effect with dedup cost? Benchmarked, never asserted
//! in tests.
//!
//! ```text
//! cargo bench -p kafka_at_least_once_solution --features bench
//! ```
//!
//! Both runs read the same 2,000 records (3 partitions) from the same broker,
//! each time as a fresh consumer group, and are timed from the first record
//! received to the last one done — the group join is left out:
//!
//! * `consume/raw` — a plain `StreamConsumer` with librdkafka's defaults
//!   (auto-commit, automatic offset store), doing nothing with the records:
//!   the ceiling;
//! * `consume/at_least_once` — your [`OrderConsumer`]: one Postgres
//!   transaction per record (dedup insert + effect), offset stored after it.

#[path = "../tests/spec/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_at_least_once::{OrderConsumer, Point, Probe};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::Lab;

const EVENTS: usize = 2_000;

async fn setup() -> anyhow::Result<Lab> {
    let lab = Lab::new(3).await?;
    let producer: FutureProducer = lab.kafka.client_config().create()?;
    let mut deliveries = Vec::new();
    for event in support::events("e", EVENTS, 50) {
        let payload = event.encode();
        let record = FutureRecord::to(&lab.topic)
            .key(&event.order_id)
            .payload(&payload);
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e)?);
    }
    for delivery in deliveries {
        delivery
            .await?
            .map_err(|(e, _)| anyhow::anyhow!("producing: {e}"))?;
    }
    Ok(lab)
}

async fn raw(lab: &Lab, group: &str) -> anyhow::Result<Duration> {
    let consumer: StreamConsumer = lab
        .kafka
        .client_config()
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[&lab.topic])?;
    let mut started = None;
    for _ in 0..EVENTS {
        labkit::within(Duration::from_secs(60), "a record", consumer.recv()).await??;
        started.get_or_insert_with(Instant::now);
    }
    Ok(started.map(|s| s.elapsed()).unwrap_or_default())
}

async fn at_least_once(lab: &Lab, group: &str) -> anyhow::Result<Duration> {
    sqlx::raw_sql("TRUNCATE orders, customer_totals, effect_log, processed_events")
        .execute(lab.pool())
        .await?;
    let started: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let applied = Arc::new(AtomicUsize::new(0));
    let (done, finished) = tokio::sync::oneshot::channel::<Instant>();
    let done = Arc::new(std::sync::Mutex::new(Some(done)));
    let probe = {
        let (started, applied, done) = (started.clone(), applied.clone(), done.clone());
        Probe::new(move |point| {
            match point {
                Point::Received { .. } => {
                    started
                        .lock()
                        .expect("lock")
                        .get_or_insert_with(Instant::now);
                }
                Point::Applied { .. } if applied.fetch_add(1, Ordering::SeqCst) + 1 == EVENTS => {
                    if let Some(done) = done.lock().expect("lock").take() {
                        let _ = done.send(Instant::now());
                    }
                }
                _ => {}
            }
            async {}
        })
    };
    let mut config = lab.config();
    config.group_id = group.to_owned();
    let consumer = OrderConsumer::new(config, lab.db.new_pool(4).await?, probe)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    let ended =
        labkit::within(Duration::from_secs(120), "every record applied", finished).await??;
    let _ = stop.send(());
    running.await??;
    let began = started.lock().expect("lock").unwrap_or(ended);
    Ok(ended - began)
}

fn consume(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let lab = match runtime.block_on(setup()) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("benches skipped (needs Postgres and Kafka): {e:#}");
            return;
        }
    };
    let mut group = c.benchmark_group("consume");
    group
        .throughput(Throughput::Elements(EVENTS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    let runs = AtomicUsize::new(0);
    group.bench_function("raw", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let (lab, runs) = (&lab, &runs);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let name = lab
                        .kafka
                        .group_id(&format!("raw{}", runs.fetch_add(1, Ordering::SeqCst)));
                    total += raw(lab, &name).await.expect("raw consume");
                }
                total
            }
        });
    });
    group.bench_function("at_least_once", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let (lab, runs) = (&lab, &runs);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let name = lab
                        .kafka
                        .group_id(&format!("alo{}", runs.fetch_add(1, Ordering::SeqCst)));
                    total += at_least_once(lab, &name)
                        .await
                        .expect("at-least-once consume");
                }
                total
            }
        });
    });
    group.finish();
}

criterion_group!(benches, consume);
criterion_main!(benches);
