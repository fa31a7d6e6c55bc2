//! Steps 3 and 5 — one token bucket per key, shared through Redis, with a stated
//! failure policy.
//!
//! ## The guarantee (step 3)
//! However many gateway instances share a Redis, a key admits at most
//! `capacity + rate × t` in any interval `t`, exactly as the in-memory bucket
//! does. Each decision is one Lua script: Redis runs scripts one at a time, so
//! "read the bucket, refill, take, write back" is atomic without locks or
//! retries. The consistency model is linearizable per key *while one Redis
//! primary holds the key*. With asynchronous replication, a failover can lose the
//! last few decisions and briefly over-admit: a rate limiter usually accepts that,
//! a ledger never would.
//!
//! Time is an argument to the script, not Redis's `TIME`: tests control it, and
//! the bucket's arithmetic does not depend on which Redis node runs it. The cost
//! is that gateway clocks must roughly agree, and skew is not symmetric:
//! * a gateway whose clock **lags** sees no refill until its clock passes the
//!   bucket's time, and never moves that time backwards, so it can only make the
//!   limiter stricter (its `retry_after` includes the lag, on its own clock);
//! * a gateway whose clock runs **ahead** by `s` refills early and stores a
//!   future time: it lends up to `min(capacity, rate × s)` tokens beyond the
//!   bound, once. The other gateways then see no refill until real time catches
//!   up, so the long-run rate is unchanged; the bound becomes
//!   `capacity + rate × (t + s)`. Only a lead that keeps growing keeps lending.
//!
//! Using Redis's `TIME` would remove skew altogether (one clock for everyone),
//! at the price of tests that cannot control time and a refill that depends on
//! which node runs the script after a failover.
//!
//! Keys expire once their bucket would be full again. A full bucket and a missing
//! key mean the same thing, so expiry loses no information and idle keys cost no
//! memory.
//!
//! ## The failure policy (step 5)
//! Every decision is bounded by a timeout. If Redis errors or does not answer in
//! time, the configured [`FailurePolicy`] decides — allow (fail open: the API
//! stays up, unprotected) or refuse (fail closed: the API is protected, and down)
//! — and the event is logged. Nothing is cached across the outage; the connection
//! manager reconnects on its own, so the limiter recovers without a restart.
//!
//! ## What production adds
//! Metrics on degraded decisions (and alerting on them), log sampling so an
//! outage does not also flood the logs, a local fallback limiter instead of a
//! blanket open/closed, and Redis Cluster hash tags if several keys must meet in
//! one script.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;
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

/// How long a fail-closed refusal tells the client to wait.
pub const FAIL_CLOSED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The bucket, in milliseconds and integer "units" exactly like the in-memory one
/// (one token = `period_ms` units, refill adds `amount` units per ms). Lua numbers
/// are doubles: exact for integers below 2^53, far above `capacity × period_ms`
/// for any sane quota.
const BUCKET_SCRIPT: &str = r#"
-- KEYS[1]  the bucket's hash: units = tokens x period_ms, at = ms of last update
-- ARGV     now_ms, capacity, refill_amount, refill_period_ms, cost
local now      = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local amount   = tonumber(ARGV[3])
local period   = tonumber(ARGV[4])
local cost     = tonumber(ARGV[5])
local full     = capacity * period

local state = redis.call('HMGET', KEYS[1], 'units', 'at')
local units = tonumber(state[1])
local at    = tonumber(state[2])
if units == nil or at == nil then
  -- A missing key is a full bucket (it expired, or was never used).
  units = full
  at    = now
end
if now > at then
  -- Refill for the time elapsed, never beyond capacity; a caller whose clock is
  -- behind the bucket's gets no refill and does not move `at` backwards.
  units = math.min(full, units + (now - at) * amount)
  at    = now
end

local need    = cost * period
local allowed = 0
if units >= need then
  units   = units - need
  allowed = 1
end

local lag   = at - now
local retry = 0
if allowed == 0 then
  retry = lag + math.ceil((need - units) / amount)
end
local reset = lag + math.ceil((full - units) / amount)

redis.call('HSET', KEYS[1], 'units', units, 'at', at)
-- Once full, the key carries no information: let Redis forget it.
redis.call('PEXPIRE', KEYS[1], math.max(reset, 1))
return { allowed, math.floor(units / period), retry, reset }
"#;

/// Token buckets kept in Redis, shared by every instance using the same prefix.
pub struct RedisTokenBucket {
    conn: ConnectionManager,
    prefix: String,
    quota: Quota,
    clock: Arc<dyn Clock>,
    policy: FailurePolicy,
    timeout: Duration,
    script: Script,
}

impl RedisTokenBucket {
    /// Default bound on one decision. A same-region Redis answers in about a
    /// millisecond; fifty leaves room for a GC pause, not for an outage.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);

    /// Buckets under `prefix` (every Redis key this limiter writes starts with it).
    ///
    /// The default policy is [`FailurePolicy::FailOpen`] with
    /// [`Self::DEFAULT_TIMEOUT`]: most gateways would rather serve unprotected
    /// for a minute than refuse everyone. Say otherwise with
    /// [`Self::with_failure_policy`].
    pub fn new(
        conn: ConnectionManager,
        prefix: impl Into<String>,
        quota: Quota,
        clock: impl Clock,
    ) -> RedisTokenBucket {
        RedisTokenBucket {
            conn,
            prefix: prefix.into(),
            quota,
            clock: Arc::new(clock),
            policy: FailurePolicy::FailOpen,
            timeout: Self::DEFAULT_TIMEOUT,
            script: Script::new(BUCKET_SCRIPT),
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

    /// The Redis key holding `key`'s bucket.
    pub fn redis_key(&self, key: &str) -> String {
        format!("{}bucket:{key}", self.prefix)
    }

    /// Take `cost` tokens from `key`'s bucket if it has them: one script call.
    pub async fn try_acquire(&self, key: &str, cost: u64) -> Result<Decision, RateLimitError> {
        let capacity = self.quota.capacity();
        if cost > capacity {
            // Refused before any round trip: Redis cannot change the answer.
            return Err(RateLimitError::CostExceedsCapacity { cost, capacity });
        }
        let now_ms = u64::try_from(self.clock.now().as_millis()).unwrap_or(u64::MAX);
        let period_ms = u64::try_from(self.quota.refill_period().as_millis()).unwrap_or(u64::MAX);

        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(self.redis_key(key))
            .arg(now_ms)
            .arg(capacity)
            .arg(self.quota.refill_amount())
            .arg(period_ms)
            .arg(cost);
        // The manager is a cheap handle to one multiplexed connection; cloning it
        // lets concurrent decisions share that connection.
        let mut conn = self.conn.clone();
        let reply = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<(u64, u64, u64, u64)>(&mut conn),
        )
        .await;
        match reply {
            Ok(Ok((allowed, remaining, retry_ms, reset_ms))) => Ok(Decision {
                allowed: allowed == 1,
                limit: capacity,
                remaining,
                retry_after: (allowed != 1).then(|| Duration::from_millis(retry_ms)),
                reset_after: Duration::from_millis(reset_ms),
                degraded: false,
            }),
            Ok(Err(e)) => Ok(self.degraded(key, &e.to_string())),
            Err(_) => Ok(self.degraded(key, &format!("no answer within {:?}", self.timeout))),
        }
    }

    /// The failure policy's decision, logged. Dropping the timed-out future above
    /// abandons the request; the multiplexed connection matches the late reply to
    /// nobody and carries on.
    fn degraded(&self, key: &str, reason: &str) -> Decision {
        let allowed = self.policy == FailurePolicy::FailOpen;
        if allowed {
            tracing::warn!(key, reason, policy = ?self.policy, "rate limit store unavailable: failing open, request allowed");
        } else {
            tracing::warn!(key, reason, policy = ?self.policy, "rate limit store unavailable: failing closed, request refused");
        }
        Decision {
            allowed,
            limit: self.quota.capacity(),
            remaining: 0,
            retry_after: (!allowed).then_some(FAIL_CLOSED_RETRY_AFTER),
            reset_after: Duration::ZERO,
            degraded: true,
        }
    }
}
