//! Step 1 — a token bucket per key, in memory.
//!
//! ## The guarantee
//! For every key and every interval of length `t` (measured by the injected
//! clock), the cost admitted is at most `capacity + rate × t`. A key that has been
//! idle long enough to refill admits exactly `capacity` at once, never more. This
//! holds under any number of threads: each decision is made under the key's lock.
//!
//! ## Why integers
//! Tokens are kept in "units" of `1 / refill_period_nanos` of a token, so refill
//! is exact integer arithmetic: `elapsed_ns × refill_amount` units per elapsed
//! nanosecond. With `f64` tokens, rounding lets a long run of tiny refills drift
//! above the bound, and "exactly capacity after idle" becomes "capacity, give or
//! take". `u128` gives centuries of headroom for the products involved.
//!
//! ## Why shards
//! One `Mutex<HashMap>` would serialise every key behind one lock. Keys are
//! spread over a fixed number of shards, each with its own lock, so unrelated
//! keys rarely contend; one key still goes through exactly one lock, which is
//! what makes its decisions atomic. The lock is a `std` mutex, not Tokio's: it is
//! never held across an `.await` (there is none inside), and it is cheaper.
//!
//! ## What production adds
//! Eviction on a schedule (see [`TokenBucket::purge_full`]), a cap on tracked
//! keys (an attacker can mint keys faster than you can evict them), and metrics.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Clock;
use crate::quota::{Decision, Quota, RateLimitError};

const SHARDS: usize = 32;

/// In-memory token buckets, one per key.
pub struct TokenBucket {
    quota: Quota,
    clock: Arc<dyn Clock>,
    shard_hasher: RandomState,
    shards: Box<[Mutex<HashMap<String, Bucket>>]>,
}

/// One key's bucket: tokens (in units) as of `updated_at`; refill is computed
/// lazily on the next request rather than by a timer per key.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    units: u128,
    updated_at: u128,
}

impl TokenBucket {
    pub fn new(quota: Quota, clock: impl Clock) -> TokenBucket {
        TokenBucket {
            quota,
            clock: Arc::new(clock),
            shard_hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Take `cost` tokens from `key`'s bucket if it has them.
    ///
    /// A refused request takes nothing. A `cost` above the capacity is an error:
    /// no amount of waiting would let it through. A cost of zero asks without
    /// taking.
    pub fn try_acquire(&self, key: &str, cost: u64) -> Result<Decision, RateLimitError> {
        let capacity = self.quota.capacity();
        if cost > capacity {
            return Err(RateLimitError::CostExceedsCapacity { cost, capacity });
        }
        let now = self.clock.now().as_nanos();
        let mut shard = self.shard(key);
        // Look up without allocating; only a key seen for the first time costs a String.
        let bucket = match shard.get_mut(key) {
            Some(bucket) => bucket,
            None => shard.entry(key.to_owned()).or_insert(Bucket {
                units: self.full_units(),
                updated_at: now,
            }),
        };
        // Refill, take and report all happen under the same lock: that is the
        // whole concurrency story. Releasing the lock between "is there enough?"
        // and "take it" would let two threads spend the same token.
        Ok(decide(&self.quota, bucket, now, cost))
    }

    /// Forget buckets that have refilled to capacity, and return how many.
    ///
    /// A full bucket holds no information — a missing key starts full — so this
    /// changes no decision; it only bounds memory to recently active keys. Run it
    /// periodically (a background task every few seconds) in production.
    pub fn purge_full(&self) -> usize {
        let now = self.clock.now().as_nanos();
        let full = self.full_units();
        let mut purged = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            let before = shard.len();
            shard.retain(|_, bucket| refilled(&self.quota, bucket, now) < full);
            purged += before - shard.len();
        }
        purged
    }

    /// How many keys currently have a bucket in memory.
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, Bucket>> {
        let index = (self.shard_hasher.hash_one(key) % SHARDS as u64) as usize;
        // A panic while holding the lock cannot leave a bucket half-updated (the
        // update is a plain store of integers), so a poisoned lock is still usable.
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn full_units(&self) -> u128 {
        units_per_token(&self.quota) * self.quota.capacity() as u128
    }
}

/// One token is `refill_period` nanoseconds' worth of units; refill adds
/// `refill_amount` units per elapsed nanosecond.
fn units_per_token(quota: &Quota) -> u128 {
    quota.refill_period().as_nanos()
}

/// Units the bucket would hold at `now`, capped at capacity.
fn refilled(quota: &Quota, bucket: &Bucket, now: u128) -> u128 {
    let full = units_per_token(quota) * quota.capacity() as u128;
    // A clock that stepped backwards adds nothing (saturating_sub gives 0).
    let elapsed = now.saturating_sub(bucket.updated_at);
    // The cap is the bucket's defining property: without it, a key idle for an
    // hour could burst an hour's worth of requests.
    full.min(
        bucket
            .units
            .saturating_add(elapsed.saturating_mul(quota.refill_amount() as u128)),
    )
}

fn decide(quota: &Quota, bucket: &mut Bucket, now: u128, cost: u64) -> Decision {
    let per_token = units_per_token(quota);
    let full = per_token * quota.capacity() as u128;
    bucket.units = refilled(quota, bucket, now);
    // Never move the bucket's time backwards: after a backwards clock step, the
    // refill resumes only once the clock has caught up again.
    bucket.updated_at = bucket.updated_at.max(now);

    let need = cost as u128 * per_token;
    let allowed = bucket.units >= need;
    if allowed {
        bucket.units -= need;
    }
    let rate = quota.refill_amount() as u128;
    // Non-zero only after a backwards clock step: refill restarts when the clock
    // catches up with the bucket, so waits are counted from there.
    let lag = bucket.updated_at - now.min(bucket.updated_at);
    Decision {
        allowed,
        limit: quota.capacity(),
        remaining: (bucket.units / per_token) as u64,
        retry_after: (!allowed).then(|| nanos(lag + (need - bucket.units).div_ceil(rate))),
        reset_after: nanos(lag + (full - bucket.units).div_ceil(rate)),
        degraded: false,
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}
