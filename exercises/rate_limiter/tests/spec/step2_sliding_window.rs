//! Step 2 — a sliding window per key, in memory.
//!
//! README, step 2: at most `limit` per `window`, where the window slides with
//! time instead of resetting on the clock's edges. A sliding log or a sliding
//! counter both pass; a fixed window does not.

use std::time::Duration;

use rate_limiter::{RateLimitError, SlidingWindow};

use crate::support::{clock, hammer, ms, secs};

const LIMIT: u64 = 10;
const WINDOW: Duration = Duration::from_secs(1);

/// Within one window, `limit` requests pass and the next is refused.
#[test]
fn step2_admits_the_limit_and_no_more_within_one_window() {
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock());
    for left in (0..LIMIT).rev() {
        let d = limiter.try_acquire("k", 1).expect("cost 1 fits");
        assert!(
            d.allowed && d.remaining == left,
            "expected allowed with {left} remaining, got {d:?}"
        );
        assert_eq!(d.limit, LIMIT);
    }
    assert!(
        !limiter.try_acquire("k", 1).unwrap().allowed,
        "request {} in one window must be refused",
        LIMIT + 1
    );
}

/// The defining test. For each of 50 keys, starting 20 ms apart across one
/// window: 1 request at `t`, 9 at `t + 990 ms`, 10 at `t + 1010 ms`. Wherever a
/// fixed window puts its edges (on the clock, or at each key's first request),
/// some key's last two bursts straddle one, and a fixed window lets 19 requests
/// through in 20 ms. A sliding window lets through at most the limit (plus one,
/// for a sliding counter that rounds its estimate down).
#[test]
fn step2_a_burst_straddling_a_window_edge_is_still_limited() {
    let clock = clock();
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock.clone());
    const KEYS: u64 = 50;
    // (time offset in ms, key, requests)
    let mut events: Vec<(u64, u64, u64)> = Vec::new();
    for key in 0..KEYS {
        let t = key * 20;
        events.push((t, key, 1));
        events.push((t + 990, key, 9));
        events.push((t + 1010, key, 10));
    }
    events.sort();
    let mut near_edge = vec![0u64; KEYS as usize];
    let mut elapsed = 0;
    for (at, key, requests) in events {
        clock.advance(ms(at - elapsed));
        elapsed = at;
        let admitted = (0..requests)
            .filter(|_| {
                limiter
                    .try_acquire(&format!("key-{key}"), 1)
                    .expect("cost 1 fits")
                    .allowed
            })
            .count() as u64;
        if requests > 1 {
            near_edge[key as usize] += admitted;
        }
    }
    for (key, admitted) in near_edge.iter().enumerate() {
        assert!(
            *admitted <= LIMIT + 1,
            "key-{key}: {admitted} requests passed within 20 ms around a window edge, limit is {LIMIT} per {WINDOW:?}. \
             A fixed window resets at its edge; README step 2 asks for a window that slides."
        );
    }
}

/// Once a whole window has passed with no traffic, the full limit is back — and
/// not more.
#[test]
fn step2_the_full_limit_returns_once_the_window_has_passed() {
    let clock = clock();
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock.clone());
    for _ in 0..LIMIT {
        limiter.try_acquire("k", 1).unwrap();
    }
    clock.advance(WINDOW * 2);
    let admitted = (0..LIMIT + 5)
        .filter(|_| limiter.try_acquire("k", 1).unwrap().allowed)
        .count() as u64;
    assert_eq!(
        admitted, LIMIT,
        "two windows later exactly the limit passes again"
    );
}

/// A refused request gets a `retry_after` no longer than the window, and waiting
/// it out is enough.
#[test]
fn step2_a_refused_request_gets_an_honest_retry_after() {
    let clock = clock();
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock.clone());
    for _ in 0..LIMIT {
        limiter.try_acquire("k", 1).unwrap();
    }
    clock.advance(ms(300));
    let refused = limiter.try_acquire("k", 1).unwrap();
    assert!(!refused.allowed);
    let wait = refused
        .retry_after
        .expect("a refused request carries retry_after");
    assert!(
        wait > Duration::ZERO && wait <= WINDOW,
        "retry_after must be within one window, got {wait:?}"
    );
    clock.advance(wait);
    assert!(
        limiter.try_acquire("k", 1).unwrap().allowed,
        "still refused after waiting retry_after ({wait:?})"
    );
}

/// Refuse `cost` now, then check `retry_after` is exactly when the same request
/// passes: still refused 1 ms before, admitted at it. (Exact against the
/// limiter's own rule, so it holds for a sliding log and a sliding counter.)
fn assert_retry_after_is_exact(
    limiter: &SlidingWindow,
    clock: &rate_limiter::ManualClock,
    cost: u64,
) {
    let refused = limiter
        .try_acquire("k", cost)
        .expect("the cost is within the limit");
    assert!(!refused.allowed);
    let wait = refused
        .retry_after
        .expect("a refused request carries retry_after");
    clock.advance(wait - ms(1));
    assert!(
        !limiter
            .try_acquire("k", cost)
            .expect("the cost is within the limit")
            .allowed,
        "README step 1/2: retry_after ({wait:?}) is when the same request would pass, yet it \
         passed 1 ms sooner: a client told to wait longer than needed is throttled twice"
    );
    clock.advance(ms(1));
    assert!(
        limiter
            .try_acquire("k", cost)
            .expect("the cost is within the limit")
            .allowed,
        "README step 1/2: retry_after is when the same request would pass; after {wait:?} a cost \
         of {cost} was still refused"
    );
}

/// With several admissions in the window, `retry_after` is when *enough* of
/// them have left for this request's cost — not merely the oldest, and not
/// all of them. Limit 10: 5 at t0 and 5 at t0+100 ms, then a cost of 6 at
/// t0+200 ms needs both gone; 4, 4 and 2, then a cost of 4 at t0+300 ms needs
/// only the first.
#[test]
fn step2_retry_after_waits_for_enough_room_not_just_the_oldest_admission() {
    let clock = clock();
    let limiter = SlidingWindow::new(10, secs(1), clock.clone());
    assert_eq!((limiter.limit(), limiter.window()), (10, secs(1)));
    assert!(limiter.try_acquire("k", 5).unwrap().allowed);
    clock.advance(ms(100));
    assert!(limiter.try_acquire("k", 5).unwrap().allowed);
    clock.advance(ms(100));
    assert_retry_after_is_exact(&limiter, &clock, 6);

    let clock = crate::support::clock();
    let limiter = SlidingWindow::new(10, secs(1), clock.clone());
    for cost in [4, 4, 2] {
        assert!(limiter.try_acquire("k", cost).unwrap().allowed);
        clock.advance(ms(100));
    }
    assert_retry_after_is_exact(&limiter, &clock, 4);
}

/// Costs count against the window in full; a refusal counts nothing.
#[test]
fn step2_costs_count_in_full_and_refusals_count_nothing() {
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock());
    assert!(limiter.try_acquire("k", 4).unwrap().allowed);
    assert!(
        !limiter.try_acquire("k", 7).unwrap().allowed,
        "4 + 7 exceeds 10"
    );
    let d = limiter.try_acquire("k", 6).unwrap();
    assert!(
        d.allowed && d.remaining == 0,
        "the refused 7 must not have counted: {d:?}"
    );
}

/// A cost above the limit is an error, not a refusal with a retry time.
#[test]
fn step2_a_cost_above_the_limit_is_refused_with_a_reason() {
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock());
    assert_eq!(
        limiter.try_acquire("k", LIMIT + 1),
        Err(RateLimitError::CostExceedsCapacity {
            cost: LIMIT + 1,
            capacity: LIMIT
        })
    );
}

/// Keys have separate windows.
#[test]
fn step2_keys_have_separate_windows() {
    let limiter = SlidingWindow::new(LIMIT, WINDOW, clock());
    limiter.try_acquire("alice", LIMIT).unwrap();
    assert!(!limiter.try_acquire("alice", 1).unwrap().allowed);
    assert_eq!(limiter.try_acquire("bob", 1).unwrap().remaining, LIMIT - 1);
}

/// Many threads, time frozen: exactly the limit passes.
#[test]
fn step2_many_threads_on_one_key_never_exceed_the_limit() {
    const THREADS: usize = 8;
    let limit = 2000;
    let limiter = SlidingWindow::new(limit, secs(60), clock());
    let admitted = hammer(THREADS, 500, || {
        limiter.try_acquire("hot", 1).unwrap().allowed
    });
    assert_eq!(
        admitted, limit,
        "README step 2: decisions on one key must be atomic"
    );
}
