//! How fast does a node count, and how fast do nodes agree again?
//!
//! ```text
//! cargo bench -p distributed_counter_solution --features bench
//! ```
//!
//! * `increments/one_node` — sequential increments over HTTP to one node (through
//!   its client proxy, into its own Postgres): each is one short transaction.
//! * convergence, printed after the criterion run: every node is partitioned
//!   from every other, takes increments on its own, then the partitions heal;
//!   how many anti-entropy rounds (every node syncing once per round) and how
//!   much time until all nodes report the same value — for 3 and 5 nodes.

#[path = "../tests/spec/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use distributed_counter::Mode;
use support::{Cluster, Outcome};

fn counter(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let cluster = match runtime.block_on(Cluster::start(1, Mode::Crdt)) {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("benches skipped (needs Postgres): {e:#}");
            return;
        }
    };
    let n = AtomicU64::new(0);
    let mut group = c.benchmark_group("increments");
    group
        .throughput(criterion::Throughput::Elements(1))
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    group.bench_function("one_node", |b| {
        b.to_async(&runtime).iter(|| async {
            let id = format!("bench-{}", n.fetch_add(1, Ordering::Relaxed));
            let (outcome, _) = cluster.increment(0, "bench", 1, &id).await;
            assert_eq!(outcome, Outcome::Acked);
        })
    });
    group.finish();
    drop(cluster);

    let mut report = String::from("\nconvergence after a full partition heals (5 trials each):\n");
    for size in [3usize, 5] {
        let trials: Vec<(usize, Duration)> = (0..5)
            .map(|trial| {
                runtime
                    .block_on(converge_once(size, trial))
                    .expect("a convergence trial")
            })
            .collect();
        let rounds_max = trials.iter().map(|t| t.0).max().unwrap_or(0);
        let mean = trials.iter().map(|t| t.1).sum::<Duration>() / trials.len() as u32;
        report.push_str(&format!("  {size} nodes: converged in at most {rounds_max} round(s), mean {mean:.1?} from heal to agreement\n"));
    }
    eprintln!("{report}");
}

/// Partition everyone, increment at every node, heal, then count rounds.
async fn converge_once(size: usize, trial: usize) -> anyhow::Result<(usize, Duration)> {
    let cluster = Cluster::start(size, Mode::Crdt).await?;
    for i in 0..size {
        for j in (i + 1)..size {
            cluster.partition(i, j);
        }
    }
    for i in 0..size {
        for k in 0..10 {
            cluster
                .increment(i, "c", 1, &format!("t{trial}-n{i}-{k}"))
                .await;
        }
    }
    cluster.heal();
    let started = Instant::now();
    for rounds in 1..=10 {
        cluster.round().await?;
        let values = cluster.values("c").await?;
        if values.iter().all(|v| *v == (size * 10) as i64) {
            return Ok((rounds, started.elapsed()));
        }
    }
    anyhow::bail!("{size} nodes did not converge in 10 rounds")
}

criterion_group!(benches, counter);
criterion_main!(benches);
