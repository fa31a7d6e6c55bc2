//! What does the online migration cost? Benchmarked, never asserted in tests.
//!
//! ```text
//! cargo bench -p column_migration_solution --features bench
//! ```
//!
//! * `backfill/<batch size>` — rows converted per second by the backfill over
//!   50,000 rows, at batch sizes 500, 2,000 and 10,000 (the table is reset,
//!   untimed, between runs);
//! * then, printed (criterion does not do percentiles): writer latency p50/p99
//!   for the workload of step 6 on 200,000 rows, once with no migration and
//!   once while the whole migration runs, on the same Postgres.

#[path = "../tests/spec/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use column_migration::workload::Workload;
use column_migration::{Config, Migration};
use criterion::{Criterion, criterion_group, criterion_main};
use support::{Lab, fast_config};

const BACKFILL_ROWS: i64 = 50_000;

fn backfill(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let lab = match runtime.block_on(setup()) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("benches skipped (needs Postgres): {e:#}");
            return;
        }
    };
    let mut group = c.benchmark_group("backfill");
    group
        .throughput(criterion::Throughput::Elements(BACKFILL_ROWS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for batch_size in [500, 2_000, 10_000] {
        let migration = lab.migration_with(Config {
            batch_size,
            ..fast_config()
        });
        group.bench_function(format!("{batch_size}"), |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let (lab, migration) = (&lab, &migration);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        reset(lab).await.expect("reset the table");
                        let started = Instant::now();
                        migration.backfill(&mut |_| {}).await.expect("backfill");
                        total += started.elapsed();
                    }
                    total
                }
            })
        });
    }
    group.finish();

    match runtime.block_on(writer_latency()) {
        Ok(report) => println!("{report}"),
        Err(e) => eprintln!("writer latency skipped: {e:#}"),
    }
}

async fn setup() -> anyhow::Result<Lab> {
    let lab = Lab::seeded(BACKFILL_ROWS, 97).await?;
    let migration = lab.migration();
    migration.expand().await?;
    migration.install_dual_write().await?;
    Ok(lab)
}

/// Back to "dual writing, nothing backfilled".
async fn reset(lab: &Lab) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "ALTER TABLE customers DISABLE TRIGGER customers_profile_sync;
         UPDATE customers SET profile_jsonb = NULL;
         ALTER TABLE customers ENABLE TRIGGER customers_profile_sync;
         TRUNCATE customers_profile_quarantine;
         UPDATE migration_progress SET phase = 'dual_writing', last_id = 0, rows_done = 0;",
    )
    .execute(lab.pool())
    .await?;
    // On its own: VACUUM cannot run in the implicit transaction of a batch.
    sqlx::raw_sql("VACUUM customers")
        .execute(lab.pool())
        .await?;
    Ok(())
}

/// Writer latency with the step 6 workload, without and with the migration.
async fn writer_latency() -> anyhow::Result<String> {
    const ROWS: i64 = 200_000;
    let pace = Duration::from_millis(2);
    let mut out = String::from(
        "\nwriter latency, 2 writers + 2 readers, 200k rows:   p50        p99       writes\n",
    );

    let quiet = Lab::seeded(ROWS, 97).await?;
    let workload = Workload::start(quiet.url(), ROWS, 2, 2, pace).await?;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let seen = workload.stop().await;
    out += &format!(
        "  no migration (15 s)                            {:>8.2?}  {:>8.2?}  {:>7}\n",
        seen.write_latency(0.5),
        seen.write_latency(0.99),
        seen.writes
    );

    let busy = Lab::seeded(ROWS, 97).await?;
    let workload = Workload::start(busy.url(), ROWS, 2, 2, pace).await?;
    let started = Instant::now();
    let migration = Migration::new(
        busy.pool().clone(),
        Config {
            batch_size: 2_000,
            ..fast_config()
        },
    );
    migration.expand().await?;
    migration.install_dual_write().await?;
    migration.backfill(&mut |_| {}).await?;
    migration.validate().await?;
    migration.switch_reads().await?;
    migration.contract().await?;
    let took = started.elapsed();
    let seen = workload.stop().await;
    out += &format!(
        "  during the whole migration ({took:>5.1?})          {:>8.2?}  {:>8.2?}  {:>7}\n",
        seen.write_latency(0.5),
        seen.write_latency(0.99),
        seen.writes
    );
    Ok(out)
}

criterion_group!(benches, backfill);
criterion_main!(benches);
