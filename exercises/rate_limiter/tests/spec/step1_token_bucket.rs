//! Step 1 — a token bucket per key, in memory.
//!
//! README, step 1: each key has a bucket of `capacity` tokens, refilled at
//! `refill_amount` per `refill_period`; a request takes `cost` tokens or is
//! refused. Time comes from the injected clock, so these tests never sleep.

use std::time::Duration;

use proptest::prelude::*;
use rate_limiter::{Clock, Quota, RateLimitError, TokenBucket};

use crate::support::{clock, close_to, hammer, ms, quota, secs};

/// A new key starts with a full bucket: `capacity` requests pass, each reporting
/// what is left, and the next one is refused.
#[test]
fn step1_a_new_key_starts_with_a_full_bucket() {
    let limiter = TokenBucket::new(quota(5, 1, secs(1)), clock());
    for left in (0..5).rev() {
        let d = limiter
            .try_acquire("alice", 1)
            .expect("cost 1 fits a capacity of 5");
        assert!(
            d.allowed,
            "request {} of 5 should pass (README step 1)",
            5 - left
        );
        assert_eq!(d.remaining, left, "remaining after {} requests", 5 - left);
        assert_eq!(d.limit, 5, "limit is the bucket's capacity");
        assert_eq!(d.retry_after, None, "an allowed request has no retry_after");
    }
    let refused = limiter.try_acquire("alice", 1).expect("cost 1 fits");
    assert!(
        !refused.allowed,
        "the 6th request in the same instant must be refused (capacity 5)"
    );
    assert_eq!(refused.remaining, 0);
    assert!(
        refused.retry_after.is_some(),
        "a refused request must say when to retry"
    );
}

/// Tokens come back at the configured rate, counted from the clock.
#[test]
fn step1_refill_adds_tokens_at_the_configured_rate() {
    let clock = clock();
    // 2 tokens per second: one every 500 ms.
    let limiter = TokenBucket::new(quota(10, 2, secs(1)), clock.clone());
    for _ in 0..10 {
        assert!(limiter.try_acquire("k", 1).unwrap().allowed);
    }
    clock.advance(ms(499));
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "499 ms at 2/s is not yet one token"
    );
    clock.advance(ms(1));
    assert!(
        limiter.try_acquire("k", 1).unwrap().allowed,
        "500 ms at 2/s is exactly one token"
    );
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "and only one"
    );
    clock.advance(secs(1));
    assert!(limiter.try_acquire("k", 1).unwrap().allowed);
    assert!(limiter.try_acquire("k", 1).unwrap().allowed);
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "one second at 2/s is two tokens, not three"
    );
}

/// However long a key sits idle, its bucket holds at most `capacity` tokens.
#[test]
fn step1_an_idle_bucket_refills_to_capacity_and_no_further() {
    let clock = clock();
    let limiter = TokenBucket::new(quota(3, 1, secs(1)), clock.clone());
    for _ in 0..3 {
        limiter.try_acquire("k", 1).unwrap();
    }
    clock.advance(secs(3600));
    let admitted = (0..10)
        .filter(|_| limiter.try_acquire("k", 1).unwrap().allowed)
        .count();
    assert_eq!(
        admitted, 3,
        "after an hour idle the bucket is full: exactly capacity (3) passes, not an hour's worth (README step 1: cap the refill)"
    );
}

/// `retry_after` is honest: waiting it out is enough, waiting a millisecond less is not.
#[test]
fn step1_a_refused_request_says_exactly_when_to_retry() {
    let clock = clock();
    // One token every 3 s.
    let limiter = TokenBucket::new(quota(2, 1, secs(3)), clock.clone());
    limiter.try_acquire("k", 2).unwrap();
    clock.advance(secs(1));
    let refused = limiter.try_acquire("k", 1).unwrap();
    let wait = refused
        .retry_after
        .expect("a refused request carries retry_after");
    assert!(
        close_to(wait, secs(2), ms(1)),
        "1 s into a 3 s refill, retry_after should be 2 s, got {wait:?}"
    );

    clock.advance(wait - ms(1));
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "1 ms before retry_after, the request must still be refused"
    );
    clock.advance(ms(1));
    assert!(
        limiter.try_acquire("k", 1).unwrap().allowed,
        "at retry_after, the same request must pass"
    );
}

/// `reset_after` is the time until the bucket is full again.
#[test]
fn step1_reset_after_is_the_time_until_the_bucket_is_full() {
    let limiter = TokenBucket::new(quota(4, 1, secs(1)), clock());
    let d = limiter.try_acquire("k", 3).unwrap();
    assert!(
        close_to(d.reset_after, secs(3), ms(1)),
        "3 tokens short at 1/s: reset_after 3 s, got {:?}",
        d.reset_after
    );
    let fresh = limiter.try_acquire("other", 0).unwrap();
    assert_eq!(
        fresh.reset_after,
        Duration::ZERO,
        "a full bucket resets in zero"
    );
}

/// A request takes its whole cost, and a refused request takes nothing.
#[test]
fn step1_costs_are_taken_whole_and_refusals_take_nothing() {
    let limiter = TokenBucket::new(quota(10, 1, secs(1)), clock());
    assert_eq!(limiter.try_acquire("k", 4).unwrap().remaining, 6);
    let refused = limiter.try_acquire("k", 7).unwrap();
    assert!(!refused.allowed, "7 does not fit in 6");
    assert_eq!(
        refused.remaining, 6,
        "a refused request must not take tokens"
    );
    let last = limiter.try_acquire("k", 6).unwrap();
    assert!(
        last.allowed && last.remaining == 0,
        "the 6 left are still there: {last:?}"
    );
}

/// A cost above capacity can never pass, so it is an error naming both numbers,
/// not a refusal with a retry time that would never come true. (And the other
/// impossible input of the bad-input table: a quota with a zero capacity,
/// rate or period is refused when it is built.)
#[test]
fn step1_a_cost_above_capacity_is_refused_with_a_reason() {
    let limiter = TokenBucket::new(quota(10, 1, secs(1)), clock());
    assert_eq!(
        limiter.try_acquire("k", 11),
        Err(RateLimitError::CostExceedsCapacity {
            cost: 11,
            capacity: 10
        }),
        "README step 1: a request larger than the bucket is an error, not a wait"
    );
    assert_eq!(
        limiter.try_acquire("k", 1).unwrap().remaining,
        9,
        "the error must not have taken tokens"
    );
    for (capacity, amount, period) in [(0, 1, secs(1)), (1, 0, secs(1)), (1, 1, ms(0))] {
        assert!(
            matches!(
                Quota::new(capacity, amount, period),
                Err(RateLimitError::InvalidQuota(_))
            ),
            "README bad input: Quota::new({capacity}, {amount}, {period:?}) is an InvalidQuota"
        );
    }
}

/// Each key has its own bucket.
#[test]
fn step1_keys_have_separate_buckets() {
    let limiter = TokenBucket::new(quota(2, 1, secs(60)), clock());
    limiter.try_acquire("alice", 2).unwrap();
    assert!(!limiter.try_acquire("alice", 1).unwrap().allowed);
    let bob = limiter.try_acquire("bob", 1).unwrap();
    assert!(
        bob.allowed && bob.remaining == 1,
        "bob's bucket is untouched by alice: {bob:?}"
    );
}

/// A clock that steps backwards (NTP, a resumed VM) must not mint tokens: going
/// back 10 s and forward again is no time at all.
#[test]
fn step1_a_clock_stepping_backwards_creates_no_tokens() {
    let clock = clock();
    let start = clock.now();
    let limiter = TokenBucket::new(quota(2, 1, secs(1)), clock.clone());
    limiter.try_acquire("k", 2).unwrap();
    clock.set(start - secs(10));
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "a backwards step adds nothing"
    );
    clock.set(start);
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "back at the original time no time has passed since the bucket was emptied"
    );
    clock.advance(secs(1));
    assert!(
        limiter.try_acquire("k", 1).unwrap().allowed,
        "one real second later, one token"
    );
}

/// After a backwards step, `retry_after` counts on the clock as it now reads:
/// the lag plus the time for a token. A client that waits exactly that long is
/// admitted, and not 1 ms sooner.
#[test]
fn step1_after_a_backwards_step_retry_after_includes_the_lag() {
    let clock = clock();
    let start = clock.now();
    let limiter = TokenBucket::new(quota(2, 1, secs(1)), clock.clone());
    limiter.try_acquire("k", 2).unwrap();
    clock.set(start - secs(10));
    let refused = limiter.try_acquire("k", 1).unwrap();
    assert_eq!(
        refused.retry_after,
        Some(secs(11)),
        "README step 1: an honest retry_after — 10 s until the clock is back where the bucket \
         was emptied, then 1 s for a token"
    );
    clock.advance(secs(11) - ms(1));
    assert!(!limiter.try_acquire("k", 1).unwrap().allowed, "1 ms early");
    clock.advance(ms(1));
    assert!(
        limiter.try_acquire("k", 1).unwrap().allowed,
        "exactly retry_after later"
    );
}

/// Many threads on one key, time frozen: exactly `capacity` requests pass, over
/// many rounds. A check and a take under different locks (or none) lets two
/// threads spend the same token.
#[test]
fn step1_many_threads_on_one_key_never_get_more_than_capacity() {
    const THREADS: usize = 8;
    const ATTEMPTS: usize = 400;
    const CAPACITY: u64 = 1000;
    const ROUNDS: usize = 10;
    let limiter = TokenBucket::new(quota(CAPACITY, 1, secs(3600)), clock());
    for round in 0..ROUNDS {
        let key = format!("hot-{round}");
        let admitted = hammer(THREADS, ATTEMPTS, || {
            limiter.try_acquire(&key, 1).expect("cost 1 fits").allowed
        });
        assert_eq!(
            admitted, CAPACITY,
            "round {round}: {THREADS}x{ATTEMPTS} attempts on one key with time frozen must admit exactly capacity \
             (README step 1: make check-and-take atomic)"
        );
    }
}

/// Full buckets can be forgotten (a missing key starts full), which bounds memory
/// without changing any decision.
#[test]
fn step1_full_buckets_can_be_forgotten_without_changing_any_decision() {
    let clock = clock();
    let limiter = TokenBucket::new(quota(3, 1, secs(1)), clock.clone());
    limiter.try_acquire("drained", 3).unwrap();
    limiter.try_acquire("sipped", 1).unwrap();
    assert_eq!(limiter.tracked_keys(), 2);
    clock.advance(secs(1));
    assert_eq!(
        limiter.purge_full(),
        1,
        "after 1 s only 'sipped' is full again"
    );
    assert_eq!(limiter.tracked_keys(), 1);
    let drained = limiter.try_acquire("drained", 1).unwrap();
    assert!(
        drained.allowed && drained.remaining == 0,
        "'drained' kept its state: 1 token after 1 s, {drained:?}"
    );
    assert!(!limiter.try_acquire("drained", 1).unwrap().allowed);
    clock.advance(secs(60));
    assert_eq!(limiter.purge_full(), 1);
    assert_eq!(limiter.tracked_keys(), 0);
}

/// One step of a generated schedule: let time pass, then ask for `cost`.
#[derive(Debug, Clone)]
struct Step {
    advance_ms: u64,
    cost: u64,
}

fn schedule(max_cost: u64) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0u64..2_500, 0..=max_cost).prop_map(|(advance_ms, cost)| Step { advance_ms, cost }),
        1..60,
    )
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 200,
        ..ProptestConfig::default()
    }
}

/// Each property test first makes one plain call, so that an unfinished step
/// fails once with its `todo!` message instead of once per shrink attempt.
fn smoke() {
    let _ = TokenBucket::new(quota(1, 1, secs(1)), clock()).try_acquire("smoke", 0);
}

/// Over any schedule and between any two requests, the admitted cost is at most
/// `capacity + rate × elapsed` — the token bucket's whole promise.
#[test]
fn step1_admitted_cost_never_exceeds_capacity_plus_refill() {
    smoke();
    proptest!(config(), |(capacity in 1u64..20, amount in 1u64..5, period_ms in 1u64..2_000, steps in schedule(20))| {
        let clock = clock();
        let limiter = TokenBucket::new(quota(capacity, amount, ms(period_ms)), clock.clone());
        let mut admitted: Vec<(u64, u64)> = Vec::new(); // (time in ms since start, cost)
        let mut now_ms = 0;
        for step in &steps {
            clock.advance(ms(step.advance_ms));
            now_ms += step.advance_ms;
            let cost = step.cost.min(capacity);
            if limiter.try_acquire("k", cost).unwrap().allowed {
                admitted.push((now_ms, cost));
            }
        }
        for (i, &(from, _)) in admitted.iter().enumerate() {
            let mut total = 0u128;
            for &(to, cost) in &admitted[i..] {
                total += cost as u128;
                // total ≤ capacity + amount × (to - from) / period, in integers.
                let bound = capacity as u128 * period_ms as u128 + amount as u128 * (to - from) as u128;
                prop_assert!(
                    total * period_ms as u128 <= bound,
                    "admitted {} between t={}ms and t={}ms, more than capacity {} + {} per {}ms (README step 1)",
                    total, from, to, capacity, amount, period_ms
                );
            }
        }
    });
}

/// Whatever happened before, after a full refill exactly `capacity` unit
/// requests pass at once, and the next is refused.
#[test]
fn step1_after_a_long_idle_exactly_capacity_requests_pass() {
    smoke();
    proptest!(config(), |(capacity in 1u64..30, amount in 1u64..5, period_ms in 1u64..1_000, steps in schedule(30), extra_idle_ms in 0u64..100_000)| {
        let clock = clock();
        let q = quota(capacity, amount, ms(period_ms));
        let limiter = TokenBucket::new(q, clock.clone());
        for step in &steps {
            clock.advance(ms(step.advance_ms));
            limiter.try_acquire("k", step.cost.min(capacity)).unwrap();
        }
        clock.advance(q.full_refill() + ms(extra_idle_ms));
        for n in 1..=capacity {
            prop_assert!(limiter.try_acquire("k", 1).unwrap().allowed, "request {} of {} after a full refill was refused", n, capacity);
        }
        prop_assert!(
            !limiter.try_acquire("k", 1).unwrap().allowed,
            "request {} after a full refill passed: the bucket held more than its capacity (README step 1)",
            capacity + 1
        );
    });
}

/// Whenever a request is refused, waiting its `retry_after` makes the same
/// request pass, and waiting a millisecond less does not.
#[test]
fn step1_every_retry_after_is_honest() {
    smoke();
    proptest!(config(), |(capacity in 1u64..10, amount in 1u64..4, period_ms in 10u64..3_000, steps in schedule(10))| {
        let clock = clock();
        let limiter = TokenBucket::new(quota(capacity, amount, ms(period_ms)), clock.clone());
        for step in &steps {
            clock.advance(ms(step.advance_ms));
            let cost = step.cost.clamp(1, capacity);
            let d = limiter.try_acquire("k", cost).unwrap();
            if d.allowed {
                continue;
            }
            let wait = d.retry_after.expect("refused requests carry retry_after");
            if wait > ms(2) {
                clock.advance(wait - ms(1));
                prop_assert!(!limiter.try_acquire("k", cost).unwrap().allowed, "passed 1 ms before retry_after {:?}", wait);
                clock.advance(ms(1));
            } else {
                clock.advance(wait);
            }
            prop_assert!(limiter.try_acquire("k", cost).unwrap().allowed, "still refused after waiting retry_after {:?}", wait);
        }
    });
}
