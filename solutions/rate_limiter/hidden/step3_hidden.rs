//! Hidden tests of step 3 — the bucket in Redis, one script per decision.
//! Needs Redis, like the visible step 3; every key lives under the test's prefix.

use std::time::Duration;

use rate_limiter::{Clock, TokenBucket};

use crate::support::{clock, close_to, ms, quota, redis_bucket, secs};

/// Redis and the in-memory bucket decide alike through a clock that steps backwards, and `reset_after` includes the lag.
#[tokio::test]
async fn step3_redis_decisions_match_the_in_memory_bucket_when_the_clock_steps_back()
-> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let clock = clock();
    let start = clock.now();
    let q = quota(3, 1, secs(1));
    let shared = redis_bucket(&redis, q, clock.clone()).await?;
    let local = TokenBucket::new(q, clock.clone());
    // (the clock, in ms from the start — negative is a step back — and the cost)
    // The bucket is never full when the clock steps back (a missing key and a
    // full bucket are the same to Redis, not to the in-memory bucket's stored time),
    // and every expiry here is seconds long, so no key lapses in real time.
    let schedule: [(i64, u64); 8] = [
        (0, 3),      // drained at the start
        (-5_000, 0), // 5 s back: reset_after is 5 s of lag + 3 s of refill
        (-5_000, 1), // refused: retry_after 5 s + 1 s
        (500, 1),    // half a token: refused, 500 ms to go
        (1_100, 1),  // 1.1 tokens: allowed, 0.1 left
        (-900, 0),   // 2 s back: reset_after 2 s + 2.9 s
        (1_100, 1),  // back where the bucket was: 0.1 token, refused
        (2_000, 1),  // 1.0 token: allowed
    ];
    // The decisions whose reset_after is stated outright, not only compared.
    let stated: [(usize, Duration); 2] = [(1, ms(8_000)), (5, ms(4_900))];
    for (i, (at_ms, cost)) in schedule.into_iter().enumerate() {
        if at_ms >= 0 {
            clock.set(start + ms(at_ms.unsigned_abs()));
        } else {
            clock.set(start - ms(at_ms.unsigned_abs()));
        }
        let expected = local.try_acquire("k", cost)?;
        let actual = shared.try_acquire("k", cost).await?;
        assert_eq!(
            (actual.allowed, actual.remaining, actual.limit),
            (expected.allowed, expected.remaining, expected.limit),
            "step {i} (clock {at_ms:+} ms, cost {cost}): Redis decided {actual:?}, the in-memory \
             bucket {expected:?}"
        );
        assert!(!actual.degraded, "a healthy Redis decision is not degraded");
        assert_eq!(
            actual.retry_after.is_some(),
            expected.retry_after.is_some(),
            "step {i}: retry_after is Some exactly when refused: Redis {actual:?}, in memory \
             {expected:?}"
        );
        if let (Some(a), Some(e)) = (actual.retry_after, expected.retry_after) {
            assert!(
                close_to(a, e, ms(1)),
                "step {i} (clock {at_ms:+} ms): retry_after {a:?}, the in-memory bucket says {e:?}"
            );
        }
        assert!(
            close_to(actual.reset_after, expected.reset_after, ms(1)),
            "step {i} (clock {at_ms:+} ms, cost {cost}): Redis says the bucket is full again in \
             {:?}, the in-memory bucket in {:?} (README step 3: the same bucket as step 1; a \
             clock behind the bucket's waits out the lag before any refill, for reset_after as \
             for retry_after)",
            actual.reset_after,
            expected.reset_after
        );
        for &(step, full_in) in &stated {
            if step == i {
                assert!(
                    close_to(actual.reset_after, full_in, ms(1)),
                    "step {i} (clock {at_ms:+} ms): the bucket is full again in {full_in:?} on \
                     this clock (the lag, then the refill), Redis said {:?}",
                    actual.reset_after
                );
            }
        }
    }
    Ok(())
}
