//! What each commit level costs, and how long a failover takes. Benchmarked,
//! never asserted.
//!
//! ```text
//! cargo bench -p failover_fencing_solution --features bench
//! ```
//!
//! `commit/<level>/<delay>`: one single-row INSERT (autocommit) on the primary
//! of one cluster (a primary and one synchronous-capable standby), at each
//! `synchronous_commit` level, with 0, 5 and 40 ms added by the replication
//! link's proxy to every chunk it forwards (each way: a round trip costs about
//! twice that). `asynchronous` is `local`: the standby is not waited for.
//! Afterwards, printed: p50, p99 and commits per second over 100 more commits
//! of each case (20 at 40 ms).
//!
//! `failover/kill_to_first_write`: from `kill -9` of the primary to the first
//! acknowledged write on the new one, through `watch_and_failover` (checks
//! every 50 ms, 300 ms each, three failures) and `connect_primary`. Each
//! iteration starts a fresh cluster, untimed.

#[path = "../tests/spec/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use failover_fencing::app::write_payment;
use failover_fencing::{DetectorConfig, Directory, Monitor, connect_primary, watch_and_failover};
use labkit_cluster::PgCluster;
use sqlx::PgConnection;

const LEVELS: [(&str, &str); 4] = [
    ("asynchronous", "local"),
    ("remote_write", "remote_write"),
    ("on", "on"),
    ("remote_apply", "remote_apply"),
];
const DELAYS_MS: [u64; 3] = [0, 5, 40];

async fn commit(conn: &mut PgConnection) {
    write_payment(conn, "bench", 1)
        .await
        .expect("a bench commit");
}

async fn session(cluster: &PgCluster, level: &str) -> PgConnection {
    let mut conn = cluster.connect(0).await.expect("a connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET synchronous_commit = {level}"
    )))
    .execute(&mut conn)
    .await
    .expect("SET synchronous_commit");
    conn
}

fn commit_levels(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let cluster = rt.block_on(async {
        let cluster = support::cluster(1).await.expect("a cluster");
        cluster
            .set_synchronous("*", "on")
            .await
            .expect("a synchronous standby");
        cluster
    });
    let mut printed = Vec::new();
    let mut group = c.benchmark_group("commit");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for delay in DELAYS_MS {
        cluster.link(1).slow(Duration::from_millis(delay));
        if delay == 0 {
            cluster.link(1).restore();
        }
        for (name, level) in LEVELS {
            let mut conn = rt.block_on(session(&cluster, level));
            group.bench_function(format!("{name}/{delay}ms"), |b| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        rt.block_on(commit(&mut conn));
                    }
                    started.elapsed()
                })
            });
            let n = if delay >= 40 { 20 } else { 100 };
            let mut times = Vec::with_capacity(n);
            let started = Instant::now();
            for _ in 0..n {
                let one = Instant::now();
                rt.block_on(commit(&mut conn));
                times.push(one.elapsed());
            }
            let per_second = n as f64 / started.elapsed().as_secs_f64();
            times.sort();
            printed.push(format!(
                "{name:>13} {delay:>3} ms   p50 {:>9.2?}   p99 {:>9.2?}   {per_second:>8.1} commits/s",
                times[n / 2],
                times[(n * 99 / 100).min(n - 1)]
            ));
        }
    }
    group.finish();
    println!("\ncommit latency, one session, single-row INSERT (same cluster, same run):");
    for line in printed {
        println!("{line}");
    }
}

fn failover_time(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let mut group = c.benchmark_group("failover");
    group.sample_size(10);
    group.bench_function("kill_to_first_write", |b| {
        b.to_async(&rt).iter_custom(|iterations| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                total += one_failover().await;
            }
            total
        })
    });
    group.finish();
}

async fn one_failover() -> Duration {
    let mut cluster = support::cluster(1).await.expect("a cluster");
    let old = cluster.node(0).url();
    let standbys = vec![cluster.node(1).url()];
    let directory = Directory::new(old.clone());
    let config = DetectorConfig {
        check_timeout: Duration::from_millis(300),
        failures: 3,
        window: Duration::from_secs(10),
    };
    let mut monitor = Monitor::new(old.clone(), config).expect("a monitor");
    let started = Instant::now();
    cluster.kill(0);
    watch_and_failover(
        &mut monitor,
        &standbys,
        &directory,
        Duration::from_millis(50),
        100,
        support::TIMEOUT,
    )
    .await
    .expect("a failover")
    .expect("the dead primary declared dead");
    let candidates = vec![old, directory.primary()];
    let (_, mut conn) = connect_primary(&candidates, Duration::from_millis(300))
        .await
        .expect("the new primary");
    commit(&mut conn).await;
    started.elapsed()
}

criterion_group!(benches, commit_levels, failover_time);
criterion_main!(benches);
