//! What does each fix for the lost update cost? Benchmarked, never asserted.
//!
//! ```text
//! cargo bench -p isolation_levels_solution --features bench
//! ```
//!
//! `seats/<engine>/<fix>/<layout>`: one round is 16 concurrent buyers each
//! buying one seat, so criterion's element throughput is purchases per
//! second. Layouts: `hot` (every buyer on one event's row) and `spread` (each
//! buyer on one of 100 events at random). The provided read-modify-write is
//! the baseline on Postgres: the cost of no protection at all (it oversells
//! under contention, which the spec shows). Afterwards, printed: how many
//! attempts REPEATABLE READ + retry needed per purchase on Postgres's hot row,
//! from `pg_stat_database`'s commits and rollbacks over 2,000 purchases.

#[path = "../tests/spec/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use isolation_levels::{
    AtomicUpdate, Db, ForUpdate, Gate, Inventory, ReadModifyWrite, RepeatableReadRetry, schema,
};

const BUYERS: usize = 16;
const EVENTS: i32 = 100;
/// Enough seats that no event sells out during a bench.
const SEATS: i32 = 1_000_000_000;

#[derive(Clone, Copy)]
enum Layout {
    Hot,
    Spread,
}

/// One round: `BUYERS` concurrent purchases of one seat; each must succeed.
async fn round<I: Inventory + Clone + 'static>(db: &Db, fix: &I, layout: Layout) {
    let mut buyers = Vec::with_capacity(BUYERS);
    for _ in 0..BUYERS {
        let (db, fix) = (db.clone(), fix.clone());
        let event = match layout {
            Layout::Hot => 1,
            Layout::Spread => fastrand::i32(1..=EVENTS),
        };
        buyers.push(tokio::spawn(async move {
            fix.buy(&db, event, 1, &Gate::open()).await
        }));
    }
    for buyer in buyers {
        buyer
            .await
            .expect("a buyer task")
            .expect("a purchase in the bench");
    }
}

fn bench_fix<I: Inventory + Clone + 'static>(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    db: &Db,
    fix: I,
) {
    let mut group = c.benchmark_group(format!("seats/{}", db.engine()));
    group
        .throughput(Throughput::Elements(BUYERS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (name, layout) in [("hot", Layout::Hot), ("spread", Layout::Spread)] {
        group.bench_function(format!("{}/{name}", fix.name()), |b| {
            b.to_async(runtime).iter_custom(|rounds| {
                let (db, fix) = (db, &fix);
                async move {
                    let started = Instant::now();
                    for _ in 0..rounds {
                        round(db, fix, layout).await;
                    }
                    started.elapsed()
                }
            })
        });
    }
    group.finish();
}

async fn setup(db: &Db) -> anyhow::Result<()> {
    schema::create(db).await?;
    for event in 1..=EVENTS {
        schema::add_event(db, event, SEATS).await?;
    }
    Ok(())
}

/// Commits and rollbacks while REPEATABLE READ + retry makes 2,000 purchases
/// on one hot row, in a database of its own. A backend reports its counts to
/// `pg_stat_database` lazily but always when it exits, so the pool is closed
/// before the counts are read.
async fn retry_rate() -> anyhow::Result<(i64, i64)> {
    let test_db = labkit::TestDb::new().await?;
    let stats = "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1";
    let counts = async || -> anyhow::Result<(i64, i64)> {
        let observer = test_db.new_pool(1).await?;
        let counts = sqlx::query_as(stats)
            .bind(test_db.name())
            .fetch_one(&observer)
            .await?;
        observer.close().await;
        Ok(counts)
    };
    {
        let pool = test_db.new_pool(BUYERS as u32 + 2).await?;
        let db = Db::Postgres(pool.clone());
        setup(&db).await?;
        pool.close().await;
    }
    let before = counts().await?;
    let pool = test_db.new_pool(BUYERS as u32 + 2).await?;
    let db = Db::Postgres(pool.clone());
    let fix = RepeatableReadRetry { max_attempts: 100 };
    for _ in 0..2_000 / BUYERS {
        round(&db, &fix, Layout::Hot).await;
    }
    pool.close().await;
    // The exits' reports land within moments; poll until the commits are in.
    let purchases = (2_000 / BUYERS * BUYERS) as i64;
    for _ in 0..50 {
        let after = counts().await?;
        let (commits, rollbacks) = (after.0 - before.0, after.1 - before.1);
        if commits >= purchases {
            return Ok((commits, rollbacks));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("pg_stat_database never showed the {purchases} commits")
}

fn seats(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let pg = runtime.block_on(async {
        let test_db = labkit::TestDb::new().await?;
        let db = Db::Postgres(test_db.new_pool(BUYERS as u32 + 2).await?);
        setup(&db).await?;
        anyhow::Ok((test_db, db))
    });
    let my = runtime.block_on(async {
        let test_db = labkit::TestMyDb::new().await?;
        let db = Db::MariaDb(test_db.new_pool(BUYERS as u32 + 2).await?);
        setup(&db).await?;
        anyhow::Ok((test_db, db))
    });
    match &pg {
        Ok((_, db)) => {
            bench_fix(c, &runtime, db, ReadModifyWrite);
            bench_fix(c, &runtime, db, AtomicUpdate);
            bench_fix(c, &runtime, db, ForUpdate);
            bench_fix(c, &runtime, db, RepeatableReadRetry { max_attempts: 100 });
        }
        Err(e) => eprintln!("Postgres benches skipped: {e:#}"),
    }
    match &my {
        Ok((_, db)) => {
            bench_fix(c, &runtime, db, AtomicUpdate);
            bench_fix(c, &runtime, db, ForUpdate);
            // REPEATABLE READ alone is not a fix on InnoDB unless
            // innodb_snapshot_isolation is on (step 5); it is measured anyway,
            // as what people mistake for one.
            bench_fix(c, &runtime, db, RepeatableReadRetry { max_attempts: 100 });
        }
        Err(e) => eprintln!("MariaDB benches skipped: {e:#}"),
    }
    if pg.is_ok() {
        match runtime.block_on(retry_rate()) {
            Ok((commits, rollbacks)) => println!(
                "REPEATABLE READ + retry on the hot row, Postgres: {commits} transactions \
                 committed and {rollbacks} rolled back (each rollback an attempt retried: \
                 {:.2} attempts per purchase)",
                (commits + rollbacks) as f64 / commits.max(1) as f64
            ),
            Err(e) => eprintln!("retry rate not measured: {e:#}"),
        }
    }
    // Drop the databases inside the runtime's context.
    let _guard = runtime.enter();
    drop((pg, my));
}

criterion_group!(benches, seats);
criterion_main!(benches);
