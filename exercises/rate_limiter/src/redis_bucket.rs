//! Steps 3 and 5 — the token bucket in Redis, shared by every gateway instance.
//!
//! Step 3: one decision is one server-side Lua script (`redis::Script`), so that
//! reading the bucket, refilling, taking and writing back happen atomically even
//! with many instances on many connections. The current time is an argument to
//! the script — the tests control it. The bucket's key expires once the bucket
//! would be full again, so idle keys cost nothing.
//!
//! Step 5: a decision never takes longer than the configured timeout. When Redis
//! errors or does not answer in time, the [`FailurePolicy`] decides, the
//! [`Decision`] is marked `degraded`, and a warning is logged. When Redis comes
//! back, decisions use it again without a restart.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::clock::Clock;
use crate::quota::{Decision, Quota, RateLimitError};

/// What to do when the store cannot be consulted in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Allow the request: availability over protection.
    FailOpen,
    /// Refuse the request: protection over availability.
    FailClosed,
}

/// Token buckets kept in Redis, shared by every instance using the same prefix.
pub struct RedisTokenBucket {
    conn: ConnectionManager,
    prefix: String,
    quota: Quota,
    clock: Arc<dyn Clock>,
    policy: FailurePolicy,
    timeout: Duration,
    // TODO(step 3): anything else you need, e.g. the `redis::Script`.
}

impl RedisTokenBucket {
    /// Default bound on one decision.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

    /// Buckets under `prefix`: every Redis key this limiter writes starts with it.
    /// By default it fails open after [`Self::DEFAULT_TIMEOUT`].
    pub fn new(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        quota: Quota,
        clock: impl Clock,
    ) -> RedisTokenBucket {
        // TODO(step 3): initialise what you added.
        RedisTokenBucket {
            conn,
            prefix: prefix.into(),
            quota,
            clock: Arc::new(clock),
            policy: FailurePolicy::FailOpen,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Decide with `policy` when Redis has not answered within `timeout`.
    pub fn with_failure_policy(
        mut self,
        policy: FailurePolicy,
        timeout: Duration,
    ) -> RedisTokenBucket {
        self.policy = policy;
        self.timeout = timeout;
        self
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The Redis key holding `key`'s bucket (it must start with the prefix).
    pub fn redis_key(&self, key: &str) -> String {
        // TODO(step 3)
        todo!("step 3: RedisTokenBucket::redis_key — see README step 3")
    }

    /// Take `cost` tokens from `key`'s bucket if it has them: one script call.
    pub async fn try_acquire(&self, key: &str, cost: u64) -> Result<Decision, RateLimitError> {
        // TODO(step 3): run one Lua script that refills, takes and sets the expiry,
        // with the time passed in as an argument.
        // TODO(step 5): bound the call by `self.timeout`; on an error or a timeout
        // apply `self.policy`, mark the decision degraded, and log a warning.
        todo!("step 3: RedisTokenBucket::try_acquire — see README steps 3 and 5")
    }
}
