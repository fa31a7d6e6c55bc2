//! Helpers shared by the steps. Nothing here decides pass or fail on its own.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rate_limiter::{Clock, ManualClock, Quota, RedisTokenBucket};

/// A manual clock starting on a whole second (so window edges fall on whole
/// seconds for windows of 1 s, 2 s, 5 s …), far from zero.
pub fn clock() -> ManualClock {
    ManualClock::new(Duration::from_secs(1_700_000_000))
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `Quota::new`, for quotas the test knows are valid.
pub fn quota(capacity: u64, refill_amount: u64, refill_period: Duration) -> Quota {
    Quota::new(capacity, refill_amount, refill_period).expect("the test's quota is valid")
}

/// A Redis bucket for this test: its own connection, the test's key prefix.
pub async fn redis_bucket(
    redis: &labkit::TestRedis,
    quota: Quota,
    clock: impl Clock,
) -> anyhow::Result<RedisTokenBucket> {
    Ok(RedisTokenBucket::new(
        redis.connection().await?,
        redis.prefix(),
        quota,
        clock,
    ))
}

/// `|a - b| <= tolerance`, for durations reported by a limiter.
pub fn close_to(actual: Duration, expected: Duration, tolerance: Duration) -> bool {
    actual.abs_diff(expected) <= tolerance
}

/// Call `attempt` `attempts` times on each of `threads` threads, all released at
/// the same instant, and count how many calls returned true. The barrier matters:
/// threads started one by one barely overlap, and a race needs overlap.
pub fn hammer(threads: usize, attempts: usize, attempt: impl Fn() -> bool + Sync) -> u64 {
    let admitted = AtomicU64::new(0);
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start.wait();
                for _ in 0..attempts {
                    if attempt() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    admitted.into_inner()
}
