//! Step 3 — one bucket per key, shared by every gateway instance through Redis.
//!
//! README, step 3: each decision is one atomic server-side script; the time is
//! passed in by the caller; idle keys expire. Needs Redis (`LAB_REDIS_URL` or
//! Docker). Every key lives under the test's own prefix.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rate_limiter::{Clock, RateLimitError, RedisTokenBucket, TokenBucket};
use redis::AsyncCommands;

use crate::support::{clock, close_to, ms, quota, redis_bucket, secs};

/// How far below the bucket's refill time a key's PTTL may be when read: the
/// real time between the script's write and the read, generously. A whole
/// second of precision lost (EXPIRE instead of PEXPIRE) is well outside it.
const TTL_SLACK_MS: i64 = 250;

/// The same schedule gives the same decisions on Redis as in memory (step 1's
/// bucket is the specification; step 3 moves it, it does not change it).
#[tokio::test]
async fn step3_redis_decisions_match_the_in_memory_bucket() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let clock = clock();
    let q = quota(5, 2, ms(3000));
    let shared = redis_bucket(&redis, q, clock.clone()).await?;
    let local = TokenBucket::new(q, clock.clone());
    let schedule: [(u64, u64); 14] = [
        (0, 1),
        (0, 3),
        (0, 2),
        (700, 1),
        (800, 1),
        (0, 1),
        (1500, 2),
        (0, 5),
        (9000, 5),
        (0, 1),
        (1499, 1),
        (1, 1),
        (2500, 4),
        (0, 0),
    ];
    for (i, (advance, cost)) in schedule.into_iter().enumerate() {
        clock.advance(ms(advance));
        let expected = local.try_acquire("k", cost)?;
        let actual = shared.try_acquire("k", cost).await?;
        assert_eq!(
            (actual.allowed, actual.remaining, actual.limit),
            (expected.allowed, expected.remaining, expected.limit),
            "step {i} (+{advance} ms, cost {cost}): Redis decided {actual:?}, the in-memory bucket {expected:?}"
        );
        assert!(!actual.degraded, "a healthy Redis decision is not degraded");
        assert_eq!(
            actual.retry_after.is_some(),
            expected.retry_after.is_some(),
            "step {i}: retry_after is Some exactly when refused: Redis {actual:?}, in memory {expected:?}"
        );
        if let (Some(a), Some(e)) = (actual.retry_after, expected.retry_after) {
            assert!(
                close_to(a, e, ms(1)),
                "step {i}: retry_after {a:?}, expected {e:?}"
            );
        }
        assert!(
            close_to(actual.reset_after, expected.reset_after, ms(1)),
            "step {i}: reset_after {:?}, expected {:?}",
            actual.reset_after,
            expected.reset_after
        );
    }
    Ok(())
}

/// Refill follows the caller's clock, not Redis's: with the test's clock
/// advanced by one refill period, one token is back, however little real time
/// has passed.
#[tokio::test]
async fn step3_time_comes_from_the_caller_not_from_redis() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let clock = clock();
    let limiter = redis_bucket(&redis, quota(2, 1, secs(60)), clock.clone()).await?;
    limiter.try_acquire("k", 2).await?;
    assert!(!limiter.try_acquire("k", 1).await?.allowed);
    clock.advance(secs(60));
    assert!(
        limiter.try_acquire("k", 1).await?.allowed,
        "README step 3: pass the time into the script"
    );
    Ok(())
}

/// Four instances, each on its own connection, 64 concurrent clients on one
/// key, time frozen: exactly the capacity is admitted. A read in one command and
/// a write in another lets instances interleave and over-admit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step3_instances_on_separate_connections_admit_exactly_the_limit() -> anyhow::Result<()> {
    const CAPACITY: u64 = 40;
    let redis = labkit::TestRedis::new().await?;
    let clock = clock();
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(Arc::new(
            redis_bucket(&redis, quota(CAPACITY, 1, secs(3600)), clock.clone()).await?,
        ));
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..64 {
        let limiter = instances[client % 4].clone();
        let admitted = admitted.clone();
        clients.spawn(async move {
            for _ in 0..5 {
                if limiter.try_acquire("shared", 1).await?.allowed {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
            }
            anyhow::Ok(())
        });
    }
    labkit::within(secs(30), "64 clients making 320 decisions", async {
        while let Some(done) = clients.join_next().await {
            done??;
        }
        anyhow::Ok(())
    })
    .await??;
    assert_eq!(
        admitted.load(Ordering::SeqCst),
        CAPACITY,
        "320 attempts through 4 instances with time frozen must admit exactly {CAPACITY} (README step 3: one atomic script)"
    );
    Ok(())
}

/// Concurrent traffic on different keys never spills from one bucket to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step3_different_keys_never_interfere() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let limiter = Arc::new(redis_bucket(&redis, quota(5, 1, secs(3600)), clock()).await?);
    let mut clients = tokio::task::JoinSet::new();
    for key in 0..10 {
        for _ in 0..4 {
            let limiter = limiter.clone();
            clients.spawn(async move {
                let mut admitted = 0;
                for _ in 0..5 {
                    if limiter
                        .try_acquire(&format!("user-{key}"), 1)
                        .await?
                        .allowed
                    {
                        admitted += 1;
                    }
                }
                anyhow::Ok((key, admitted))
            });
        }
    }
    let mut per_key = [0u64; 10];
    while let Some(done) =
        labkit::within(secs(30), "decisions on 10 keys", clients.join_next()).await?
    {
        let (key, admitted) = done??;
        per_key[key] += admitted;
    }
    assert_eq!(
        per_key, [5; 10],
        "each key admits exactly its own capacity of 5"
    );
    Ok(())
}

/// A bucket's key lives under the limiter's prefix and expires once the bucket
/// would be full again: an idle key costs Redis nothing.
#[tokio::test]
async fn step3_an_idle_key_expires_once_its_bucket_would_be_full() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let limiter = redis_bucket(&redis, quota(5, 1, secs(1)), clock()).await?;
    let d = limiter.try_acquire("alice", 2).await?;
    let key = limiter.redis_key("alice");
    assert!(
        key.starts_with(redis.prefix()),
        "README step 3: every key starts with the given prefix, got {key}"
    );
    let mut conn = redis.connection().await?;
    let ttl_ms: i64 = conn.pttl(&key).await?;
    assert!(
        ttl_ms > 0,
        "README step 3: the bucket key must expire (PTTL was {ttl_ms}: -1 = no expiry, -2 = no key)"
    );
    let full_in = d.reset_after.as_millis() as i64;
    // PTTL counts down in real time from the script's write: allow for the
    // round trip between the two commands, nothing more.
    assert!(
        ttl_ms <= full_in && ttl_ms >= full_in - TTL_SLACK_MS,
        "the key should expire when the bucket is full again, in {full_in} ms; PTTL is {ttl_ms} ms"
    );
    Ok(())
}

/// Expiry really happens: a bucket that refills in 100 ms disappears from Redis
/// shortly after (polled, not slept on).
#[tokio::test]
async fn step3_an_expired_key_is_gone_from_redis() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let limiter = redis_bucket(&redis, quota(2, 1, ms(50)), rate_limiter::SystemClock).await?;
    limiter.try_acquire("brief", 2).await?;
    let key = limiter.redis_key("brief");
    let conn = redis.connection().await?;
    labkit::eventually(secs(5), format!("{key} to expire"), || {
        let mut conn = conn.clone();
        let key = key.clone();
        async move { Ok(!conn.exists::<_, bool>(&key).await?) }
    })
    .await?;
    Ok(())
}

/// A cost above capacity is refused as an error without asking Redis: here
/// Redis is unreachable, and the answer is still the error.
#[tokio::test]
async fn step3_a_cost_above_capacity_is_refused_without_a_round_trip() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let proxy = labkit::FaultProxy::for_url(redis.url()).await?;
    let conn = labkit::redis::connect(proxy.url()).await?;
    let limiter = RedisTokenBucket::new(conn, redis.prefix(), quota(10, 1, secs(1)), clock());
    proxy.cut();
    let answer = labkit::within(
        secs(5),
        "a decision on an impossible cost",
        limiter.try_acquire("k", 11),
    )
    .await?;
    assert_eq!(
        answer,
        Err(RateLimitError::CostExceedsCapacity {
            cost: 11,
            capacity: 10
        })
    );
    Ok(())
}

/// Expiry is refreshed by every decision: a key drained further after it was
/// created must live until its bucket is full again, not until the first
/// expiry ran out (that would hand out a fresh bucket early). Every refill time
/// here is whole seconds, so this checks the refresh alone; the precision is
/// `step3_the_expiry_is_set_to_the_millisecond`'s.
#[tokio::test]
async fn step3_every_decision_refreshes_the_expiry() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let clock = clock();
    let limiter = redis_bucket(&redis, quota(10, 1, secs(1)), clock.clone()).await?;
    let mut conn = redis.connection().await?;
    // After each decision the bucket is full again in 3 s, 5 s, 7 s, and 6 s
    // after the last one: whole seconds, so EXPIRE would be exact here too. An
    // expiry set only on create keeps the first 3 s.
    for _ in 0..3 {
        limiter.try_acquire("k", 3).await?;
        clock.advance(secs(1));
    }
    let d = limiter.try_acquire("k", 0).await?;
    let ttl_ms: i64 = conn.pttl(limiter.redis_key("k")).await?;
    let full_in = d.reset_after.as_millis() as i64;
    assert!(
        ttl_ms <= full_in && ttl_ms >= full_in - TTL_SLACK_MS,
        "after the last decision the bucket is full again in {full_in} ms, so the key must live \
         that long; PTTL is {ttl_ms} ms (README step 3: set the expiry on every write, not only \
         when the key is created)"
    );
    Ok(())
}

/// The expiry is exact to the millisecond: a bucket full again in 1.5 s gives
/// its key a PTTL of 1.5 s (PEXPIRE), not 1 s (EXPIRE in whole seconds, which
/// lets the key vanish half a second before the bucket is full and hands out
/// tokens early).
#[tokio::test]
async fn step3_the_expiry_is_set_to_the_millisecond() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    // Two tokens a second: draining all three leaves 1.5 s until full.
    let limiter = redis_bucket(&redis, quota(3, 2, secs(1)), clock()).await?;
    let d = limiter.try_acquire("k", 3).await?;
    assert_eq!(
        d.reset_after,
        ms(1500),
        "3 tokens at 2 per second are whole again in 1.5 s (README step 1/3: reset_after)"
    );
    let mut conn = redis.connection().await?;
    let ttl_ms: i64 = conn.pttl(limiter.redis_key("k")).await?;
    assert!(
        (1500 - TTL_SLACK_MS..=1500).contains(&ttl_ms),
        "the bucket is full again in 1500 ms, so the key must expire then, to the millisecond; \
         PTTL is {ttl_ms} ms (README step 3: PEXPIRE in milliseconds — EXPIRE rounds to whole \
         seconds and drops the key early)"
    );
    Ok(())
}

/// Two gateways share one bucket; `lead_ms` is how far the second one's clock
/// runs ahead of the first's (which tells the truth), negative for a lag.
/// Drain the bucket through the first, then for 10 s send one request through
/// each gateway every 100 ms, advancing both clocks together. Returns the
/// admissions after draining.
async fn skewed_gateways(
    redis: &labkit::TestRedis,
    capacity: u64,
    lead_ms: i64,
) -> anyhow::Result<u64> {
    let quota = quota(capacity, 1, secs(1));
    let truth = clock();
    let skewed = clock();
    if lead_ms >= 0 {
        skewed.advance(ms(lead_ms.unsigned_abs()));
    } else {
        skewed.set(truth.now() - ms(lead_ms.unsigned_abs()));
    }
    let honest = redis_bucket(redis, quota, truth.clone()).await?;
    let other = redis_bucket(redis, quota, skewed.clone()).await?;
    for _ in 0..capacity {
        assert!(honest.try_acquire("k", 1).await?.allowed);
    }
    let mut admitted = 0;
    for _ in 0..100 {
        truth.advance(ms(100));
        skewed.advance(ms(100));
        for gateway in [&honest, &other] {
            if gateway.try_acquire("k", 1).await?.allowed {
                admitted += 1;
            }
        }
    }
    Ok(admitted)
}

/// A gateway whose clock lags never loosens the limit: it sees no refill until
/// its clock passes the bucket's time, and never moves that time back (moving
/// it back hands the same seconds out twice). Over 10 s at 1 token/s, exactly
/// 10 are admitted across both gateways.
#[tokio::test]
async fn step3_a_gateway_whose_clock_lags_never_admits_more() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let admitted = skewed_gateways(&redis, 5, -3_000).await?;
    assert_eq!(
        admitted, 10,
        "README step 3: 10 s at 1 token/s admits 10, whatever the second gateway's clock \
         says (it lags 3 s); more means a lagging clock rewound the bucket's time"
    );
    Ok(())
}

/// A lagging gateway's `retry_after` counts on its own clock: it includes the
/// lag, so a client that waits exactly that long is admitted, and not 1 ms
/// sooner.
#[tokio::test]
async fn step3_a_lagging_gateway_tells_an_honest_retry_after() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let truth = clock();
    let lagging = clock();
    lagging.set(truth.now() - ms(3_000));
    let quota = quota(2, 1, secs(1));
    let honest = redis_bucket(&redis, quota, truth.clone()).await?;
    let behind = redis_bucket(&redis, quota, lagging.clone()).await?;
    assert!(honest.try_acquire("k", 2).await?.allowed);
    let refused = behind.try_acquire("k", 1).await?;
    assert!(!refused.allowed, "the bucket is empty");
    assert_eq!(
        refused.retry_after,
        Some(ms(4_000)),
        "README step 1/3: the lagging gateway's clock is 3 s behind the bucket's, plus 1 s \
         for a token"
    );
    lagging.advance(ms(3_999));
    assert!(
        !behind.try_acquire("k", 1).await?.allowed,
        "1 ms before retry_after"
    );
    lagging.advance(ms(1));
    assert!(
        behind.try_acquire("k", 1).await?.allowed,
        "exactly retry_after later, on the same gateway's clock"
    );
    Ok(())
}

/// A gateway whose clock runs ahead refills early and stores a future time: it
/// can admit up to `min(capacity, rate × lead)` beyond the bound, once (the
/// honest gateway then sees no refill until it catches up). With a 3 s lead at
/// 1 token/s that is 3 more over 10 s — never more, and not again.
#[tokio::test]
async fn step3_a_gateway_whose_clock_runs_ahead_admits_at_most_its_lead_more() -> anyhow::Result<()>
{
    let redis = labkit::TestRedis::new().await?;
    let admitted = skewed_gateways(&redis, 5, 3_000).await?;
    assert!(
        admitted <= 10 + 3,
        "README step 3: a 3 s lead borrows at most 3 tokens at 1 token/s; {admitted} admitted \
         in 10 s means the honest gateway's clock moved the bucket's time back"
    );
    assert!(
        admitted >= 10,
        "{admitted} admitted: the refill itself was lost"
    );
    // The lead is bounded by capacity too: with capacity 2, a 3 s lead lends 2.
    let redis = labkit::TestRedis::new().await?;
    let admitted = skewed_gateways(&redis, 2, 3_000).await?;
    assert!(
        (10..=12).contains(&admitted),
        "capacity 2 caps what a 3 s lead lends at 2: {admitted} admitted in 10 s"
    );
    Ok(())
}
