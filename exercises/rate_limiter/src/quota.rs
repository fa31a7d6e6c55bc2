// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! The vocabulary every limiter shares: a quota in, a decision out.

use std::time::Duration;

/// How much a key may do: a burst of `capacity`, refilled at `refill_amount`
/// per `refill_period`.
///
/// `Quota::new(10, 1, Duration::from_secs(6))` allows a burst of 10 and then one
/// request every 6 seconds (10 per minute on average).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    capacity: u64,
    refill_amount: u64,
    refill_period: Duration,
}

impl Quota {
    /// Validates the quota: all three must be non-zero, and the period at least a
    /// millisecond (the Redis limiter keeps time in milliseconds).
    pub fn new(
        capacity: u64,
        refill_amount: u64,
        refill_period: Duration,
    ) -> Result<Quota, RateLimitError> {
        if capacity == 0 {
            return Err(RateLimitError::InvalidQuota("capacity must be at least 1"));
        }
        if refill_amount == 0 {
            return Err(RateLimitError::InvalidQuota(
                "refill amount must be at least 1",
            ));
        }
        if refill_period < Duration::from_millis(1) {
            return Err(RateLimitError::InvalidQuota(
                "refill period must be at least 1 ms",
            ));
        }
        Ok(Quota {
            capacity,
            refill_amount,
            refill_period,
        })
    }

    /// `n` requests per second, with a burst of `n`.
    ///
    /// # Panics
    /// If `n` is zero: a limit of nothing is a configuration mistake, not a quota.
    pub fn per_second(n: u64) -> Quota {
        Quota::new(n, n, Duration::from_secs(1)).expect("Quota::per_second needs n >= 1")
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    pub fn refill_amount(&self) -> u64 {
        self.refill_amount
    }

    pub fn refill_period(&self) -> Duration {
        self.refill_period
    }

    /// How long an empty bucket takes to become full again. This is the window a
    /// client should picture, and what the HTTP layer advertises.
    pub fn full_refill(&self) -> Duration {
        let nanos = (self.capacity as u128 * self.refill_period.as_nanos())
            .div_ceil(self.refill_amount as u128);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// The answer to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed. If it may, its cost has been taken.
    pub allowed: bool,
    /// The most a key can have at once (the bucket's capacity, the window's limit).
    pub limit: u64,
    /// Whole units left after this decision.
    pub remaining: u64,
    /// For a refused request: the earliest time after which the same request can
    /// succeed, if nothing else is spent meanwhile. `None` when allowed.
    pub retry_after: Option<Duration>,
    /// Time until the key is back at its full limit.
    pub reset_after: Duration,
    /// True when the limiter could not consult its store and its failure policy
    /// decided instead (step 5). In-memory limiters never set it.
    pub degraded: bool,
}

/// Why a limiter could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// Waiting never helps such a request, so it must be refused outright rather
    /// than told to retry later.
    #[error(
        "a request costing {cost} can never fit a limit of {capacity}; it is refused, not delayed"
    )]
    CostExceedsCapacity { cost: u64, capacity: u64 },
    #[error("invalid quota: {0}")]
    InvalidQuota(&'static str),
}
