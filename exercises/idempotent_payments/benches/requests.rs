//! What does idempotency cost? Benchmarked, never asserted in tests.
//!
//! ```text
//! cargo bench -p idempotent_payments_solution --features bench
//! ```
//!
//! Three things, on the same Postgres, one request at a time:
//! * `insert_baseline` — a plain single-row INSERT (the floor: one round trip,
//!   one commit);
//! * `post_new_key` — `POST /v1/payments` with a fresh Idempotency-Key: claim the
//!   key, write the payment and two entries under a row lock, finish, store the
//!   response — four short transactions, by design (see README step 4);
//! * `post_replay` — the same request again: one transaction that reads the
//!   stored answer.
//!
//! Requests go through the router in-process (`oneshot`), signed, so the figures
//! are the service's work without HTTP parsing or a socket. Criterion reports
//! throughput; a fixed sample afterwards prints p50 and p99 latency, which
//! criterion does not.

#[path = "../tests/spec/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use support::{TestApp, payment};

fn requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let app = match runtime.block_on(setup()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("benches skipped (needs Postgres): {e:#}");
            return;
        }
    };
    let body = payment(1, "acct_bench_src", "acct_bench_dst");
    let counter = AtomicU64::new(0);

    let mut group = c.benchmark_group("payments");
    group
        .throughput(criterion::Throughput::Elements(1))
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    group.bench_function("insert_baseline", |b| {
        b.to_async(&runtime)
            .iter(|| baseline_insert(&app, counter.fetch_add(1, Ordering::Relaxed)))
    });
    group.bench_function("post_new_key", |b| {
        b.to_async(&runtime).iter(|| async {
            let key = format!("bench-{}", counter.fetch_add(1, Ordering::Relaxed));
            let response = app.pay(&key, &body).await;
            assert_eq!(response.status, 201, "{}", response.text());
        })
    });
    runtime.block_on(app.pay("bench-replay", &body));
    group.bench_function("post_replay", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = app.pay("bench-replay", &body).await;
            assert_eq!(response.header("idempotent-replayed"), Some("true"));
        })
    });
    group.finish();

    // Percentiles from a fixed sample of each.
    const SAMPLES: usize = 1_000;
    let mut report = String::from("\nlatency over 1000 sequential requests:   p50        p99\n");
    for name in ["insert_baseline", "post_new_key", "post_replay"] {
        let mut latencies: Vec<Duration> = runtime.block_on(async {
            let mut out = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                match name {
                    "insert_baseline" => baseline_insert(&app, n).await,
                    "post_new_key" => {
                        app.pay(&format!("latency-{n}"), &body).await;
                    }
                    _ => {
                        app.pay("bench-replay", &body).await;
                    }
                }
                out.push(started.elapsed());
            }
            out
        });
        latencies.sort();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        report.push_str(&format!(
            "  {name:38} {:>8.3?} {:>10.3?}\n",
            at(0.50),
            at(0.99)
        ));
    }
    eprintln!("{report}");
}

async fn setup() -> anyhow::Result<TestApp> {
    let app = TestApp::new().await?;
    app.account("acct_bench_src", "USD", i64::MAX / 4).await?;
    app.account("acct_bench_dst", "USD", 0).await?;
    sqlx::query(
        "CREATE TABLE baseline (id bigint PRIMARY KEY, amount bigint NOT NULL, note text NOT NULL)",
    )
    .execute(app.db.pool())
    .await?;
    Ok(app)
}

async fn baseline_insert(app: &TestApp, n: u64) {
    sqlx::query("INSERT INTO baseline (id, amount, note) VALUES ($1, 1, 'baseline')")
        .bind(n as i64)
        .execute(app.db.pool())
        .await
        .expect("the baseline insert");
}

criterion_group!(benches, requests);
criterion_main!(benches);
