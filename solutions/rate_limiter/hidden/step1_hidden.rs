//! Hidden tests of step 1 — a token bucket per key, in memory.

use rate_limiter::{Clock, TokenBucket};

use crate::support::{clock, ms, quota, secs};

/// After a backwards clock step, `reset_after` is the lag plus the refill, and the bucket is full exactly then, not 1 ms sooner.
#[test]
fn step1_after_a_backwards_step_reset_after_includes_the_lag() {
    let clock = clock();
    let start = clock.now();
    let limiter = TokenBucket::new(quota(2, 1, secs(1)), clock.clone());
    assert!(
        limiter
            .try_acquire("k", 2)
            .expect("cost 2 fits a capacity of 2")
            .allowed
    );
    clock.set(start - secs(10));
    let probe = limiter.try_acquire("k", 0).expect("a cost of 0 fits");
    assert_eq!(
        probe.reset_after,
        secs(12),
        "README step 1: reset_after is when the bucket is full again, on the clock as it now \
         reads — 10 s until the clock is back where the bucket was emptied, then 2 s for 2 \
         tokens at 1/s (a backwards step creates no tokens, so it cannot shorten the wait)"
    );
    assert_eq!(
        limiter.purge_full(),
        0,
        "an emptied bucket is not full after a backwards step: purge_full keeps it"
    );

    clock.advance(secs(12) - ms(1));
    assert!(
        !limiter
            .try_acquire("k", 2)
            .expect("cost 2 fits a capacity of 2")
            .allowed,
        "1 ms before reset_after the bucket is not full yet"
    );
    assert_eq!(
        limiter.purge_full(),
        0,
        "1 ms before reset_after purge_full must not forget the bucket"
    );
    clock.advance(ms(1));
    assert_eq!(
        limiter.purge_full(),
        1,
        "at reset_after the bucket is full, so purge_full forgets it"
    );
    assert!(
        limiter
            .try_acquire("k", 2)
            .expect("cost 2 fits a capacity of 2")
            .allowed,
        "at reset_after the whole capacity passes"
    );
}
