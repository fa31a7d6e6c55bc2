//! Step 1 — a token bucket per key, in memory.
//!
//! Each key owns a bucket holding up to `capacity` tokens. Tokens come back at
//! `refill_amount` per `refill_period`, never beyond `capacity`. A request
//! takes `cost` tokens if the bucket has them; otherwise it is refused and takes
//! nothing. Time comes from the injected [`Clock`], never from the system.
//!
//! Things the tests check (README, step 1):
//! * a new key starts full; an idle key refills to `capacity` and no further;
//! * `retry_after` and `reset_after` are exact (to the millisecond);
//! * a cost above `capacity` is `Err(CostExceedsCapacity)`, not a refusal;
//! * a clock that steps backwards creates no tokens;
//! * many threads on one key never get more than the bucket allows.

use std::sync::Arc;

use crate::clock::Clock;
use crate::quota::{Decision, Quota, RateLimitError};

/// In-memory token buckets, one per key.
pub struct TokenBucket {
    quota: Quota,
    clock: Arc<dyn Clock>,
    // TODO(step 1): the per-key state, and whatever keeps concurrent decisions
    // on one key from interfering. What must a bucket remember between requests
    // so that refill can be computed lazily, without a timer per key?
}

impl TokenBucket {
    pub fn new(quota: Quota, clock: impl Clock) -> TokenBucket {
        // TODO(step 1): initialise your per-key state.
        TokenBucket {
            quota,
            clock: Arc::new(clock),
        }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Take `cost` tokens from `key`'s bucket if it has them.
    ///
    /// A refused request takes nothing. A `cost` above the capacity is an error.
    /// A cost of zero asks without taking.
    pub fn try_acquire(&self, key: &str, cost: u64) -> Result<Decision, RateLimitError> {
        // TODO(step 1): refill for the time elapsed (capped at capacity), take the
        // cost if it fits, and report remaining / retry_after / reset_after.
        todo!("step 1: TokenBucket::try_acquire — see README step 1")
    }

    /// Forget buckets that have refilled to capacity and return how many; a
    /// missing key starts full, so no decision changes.
    pub fn purge_full(&self) -> usize {
        // TODO(step 1): drop every bucket that would be full at the current time.
        todo!("step 1: TokenBucket::purge_full — see README step 1")
    }

    /// How many keys currently have a bucket in memory.
    pub fn tracked_keys(&self) -> usize {
        // TODO(step 1)
        todo!("step 1: TokenBucket::tracked_keys — see README step 1")
    }
}
