//! How fast is a decision? Benchmarked, never asserted in tests.
//!
//! ```text
//! cargo bench -p rate_limiter_solution --features bench   # the reference
//! cargo bench -p rate_limiter --features bench          # your code (once it is written)
//! ```
//!
//! * `in_memory/*`: your step-1 `TokenBucket` beside `governor` (GCRA, lock-free
//!   per key), the crate most Rust services reach for. Read the ratio, not the
//!   absolute numbers: both run on the same machine in the same process.
//! * `redis/*`: step-3 decisions per second with 1, 16 and 64 concurrent clients
//!   sharing one multiplexed connection. Needs Redis (`LAB_REDIS_URL` or Docker);
//!   skipped with a message otherwise.
//!
//! Every limiter is given a quota large enough that every decision is "allowed":
//! the refused path does the same work, and an allowed-only run keeps the two
//! libraries comparable.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use governor::{Quota as GovernorQuota, RateLimiter as Governor};
use rate_limiter::{Quota, RedisTokenBucket, SystemClock, TokenBucket};

const GENEROUS: u32 = 1_000_000_000;

fn ours() -> TokenBucket {
    TokenBucket::new(
        Quota::new(GENEROUS as u64, GENEROUS as u64, Duration::from_secs(1))
            .expect("a valid quota"),
        SystemClock,
    )
}

fn governor() -> governor::DefaultKeyedRateLimiter<String> {
    Governor::keyed(GovernorQuota::per_second(
        NonZeroU32::new(GENEROUS).expect("non-zero"),
    ))
}

fn in_memory(c: &mut Criterion) {
    let keys: Vec<String> = (0..1000).map(|i| format!("client-{i}")).collect();
    let mut group = c.benchmark_group("in_memory");
    group.throughput(Throughput::Elements(1));
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    // One thread, keys cycling through 1000 clients (hashing and lookup included).
    let limiter = ours();
    let mut i = 0;
    group.bench_function("single_thread/token_bucket", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(limiter.try_acquire(&keys[i], 1).expect("cost fits").allowed)
        })
    });
    let peer = governor();
    let mut i = 0;
    group.bench_function("single_thread/governor", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(peer.check_key(&keys[i]).is_ok())
        })
    });

    // Contended: every thread on the same hot key, the worst case for a lock.
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let limiter = Arc::new(ours());
    group.bench_function(
        BenchmarkId::new("contended_one_key/token_bucket", threads),
        |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, {
                    let limiter = limiter.clone();
                    move || black_box(limiter.try_acquire("hot", 1).expect("cost fits").allowed)
                })
            })
        },
    );
    let peer = Arc::new(governor());
    let hot = "hot".to_string();
    group.bench_function(
        BenchmarkId::new("contended_one_key/governor", threads),
        |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, {
                    let peer = peer.clone();
                    let hot = hot.clone();
                    move || black_box(peer.check_key(&hot).is_ok())
                })
            })
        },
    );
    group.finish();
}

/// `iters` decisions split across `threads` threads; the wall time of all of them.
fn contended(
    threads: usize,
    iters: u64,
    decide: impl Fn() -> bool + Clone + Send + 'static,
) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let decide = decide.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    decide();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for handle in handles {
        handle.join().expect("a bench thread panicked");
    }
    start.elapsed()
}

fn redis(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let redis = match runtime.block_on(labkit::TestRedis::new()) {
        Ok(redis) => redis,
        Err(e) => {
            eprintln!("redis benches skipped: {e:#}");
            return;
        }
    };
    let limiter = runtime.block_on(async {
        let conn = redis.connection().await.expect("a Redis connection");
        let quota = Quota::new(GENEROUS as u64, GENEROUS as u64, Duration::from_secs(1))
            .expect("a valid quota");
        // A generous timeout: the bench measures Redis, not the failure policy.
        Arc::new(
            RedisTokenBucket::new(conn, redis.prefix(), quota, SystemClock).with_failure_policy(
                rate_limiter::FailurePolicy::FailClosed,
                Duration::from_secs(5),
            ),
        )
    });

    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(1));
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    for clients in [1usize, 16, 64] {
        group.bench_function(
            BenchmarkId::new("decisions", format!("{clients}_clients")),
            |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        let per_client = iters.div_ceil(clients as u64);
                        let start = Instant::now();
                        let mut tasks = tokio::task::JoinSet::new();
                        for client in 0..clients {
                            let limiter = limiter.clone();
                            tasks.spawn(async move {
                                let key = format!("client-{client}");
                                for _ in 0..per_client {
                                    let d = limiter.try_acquire(&key, 1).await.expect("cost fits");
                                    assert!(
                                        !d.degraded,
                                        "Redis did not answer within 5 s during the bench"
                                    );
                                }
                            });
                        }
                        while tasks.join_next().await.is_some() {}
                        start.elapsed()
                    })
                })
            },
        );
    }
    group.finish();
    drop(limiter);
    drop(redis);
}

criterion_group!(benches, in_memory, redis);
criterion_main!(benches);
