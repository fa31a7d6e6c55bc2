//! Step 5 — what the limiter does when Redis is gone or slow.
//!
//! README, step 5: every decision finishes within the configured timeout; when
//! Redis cannot answer in time, the configured policy decides (fail open or
//! fail closed), the decision is marked degraded, and the event is logged; when
//! Redis comes back, decisions use it again without a restart. Faults come from
//! labkit's proxy between the limiter and Redis.

use std::time::Duration;

use rate_limiter::{Decision, FailurePolicy, RedisTokenBucket};
use tracing::instrument::WithSubscriber;

use crate::support::faults::{TIMEOUT, behind_a_proxy, served_behind_a_proxy};
use crate::support::{ms, secs};

/// Each test allows ten times the decision budget before calling a decision hung.
const HUNG: Duration = Duration::from_secs(5);

/// One decision, bounded by the test, with the logs it emitted.
async fn decide_logged(
    limiter: &RedisTokenBucket,
    key: &str,
) -> anyhow::Result<(Decision, labkit::CapturedLogs)> {
    let (dispatch, logs) = labkit::capture_logs();
    let decision = labkit::within(
        HUNG,
        format!("a decision that should end within its {TIMEOUT:?} budget (README step 5)"),
        limiter.try_acquire(key, 1).with_subscriber(dispatch),
    )
    .await??;
    Ok((decision, logs))
}

fn logged_a_warning(logs: &labkit::CapturedLogs) -> bool {
    logs.contains("WARN", "") || logs.contains("ERROR", "")
}

/// Redis cut off, fail closed: the request is refused within the budget, the
/// decision says it is degraded and when to retry, and a warning is logged.
#[tokio::test]
async fn step5_with_redis_cut_off_a_fail_closed_limiter_refuses_within_its_timeout()
-> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailClosed).await?;
    assert!(
        !limiter.try_acquire("k", 1).await?.degraded,
        "with Redis up, decisions are not degraded"
    );
    proxy.cut();
    let (decision, logs) = decide_logged(&limiter, "k").await?;
    assert!(
        !decision.allowed,
        "fail closed: with Redis unreachable the request must be refused, got {decision:?}"
    );
    assert!(
        decision.degraded,
        "the refusal must be marked degraded: Redis did not decide it"
    );
    assert!(
        decision.retry_after.is_some(),
        "a refusal always says when to retry"
    );
    assert!(
        logged_a_warning(&logs),
        "README step 5: a degraded decision must be logged (WARN or ERROR); got:\n{}",
        logs.text()
    );
    Ok(())
}

/// Redis cut off, fail open: an error, like a timeout, is decided by the
/// policy — allowed, marked degraded, logged. (Refusing on errors regardless
/// takes a fail-open API down whenever Redis is.)
#[tokio::test]
async fn step5_with_redis_cut_off_a_fail_open_limiter_allows() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailOpen).await?;
    assert!(!limiter.try_acquire("k", 1).await?.degraded);
    proxy.cut();
    let (decision, logs) = decide_logged(&limiter, "k").await?;
    assert!(
        decision.allowed && decision.degraded,
        "fail open: with Redis unreachable the request is allowed and marked degraded, got {decision:?}"
    );
    assert!(logged_a_warning(&logs), "logged:\n{}", logs.text());
    Ok(())
}

/// Redis stalled (connection open, no answer), fail open: the request is
/// allowed within the budget, marked degraded, and logged.
#[tokio::test]
async fn step5_with_redis_stalled_a_fail_open_limiter_allows_within_its_timeout()
-> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailOpen).await?;
    limiter.try_acquire("k", 1).await?;
    proxy.stall();
    let (decision, logs) = decide_logged(&limiter, "k").await?;
    assert!(
        decision.allowed,
        "fail open: with Redis silent the request must be allowed, got {decision:?}"
    );
    assert!(decision.degraded, "the allowance must be marked degraded");
    assert!(
        logged_a_warning(&logs),
        "a degraded decision must be logged; got:\n{}",
        logs.text()
    );
    proxy.restore();
    Ok(())
}

/// Redis stalled, fail closed: refused. (A black hole is the failure only a
/// timeout notices: no error ever arrives.)
#[tokio::test]
async fn step5_with_redis_stalled_a_fail_closed_limiter_refuses() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailClosed).await?;
    limiter.try_acquire("k", 1).await?;
    proxy.stall();
    let (decision, _) = decide_logged(&limiter, "k").await?;
    assert!(
        !decision.allowed && decision.degraded,
        "fail closed must refuse when Redis is silent, got {decision:?}"
    );
    proxy.restore();
    Ok(())
}

/// A slow Redis that still answers within the budget is not a failure.
#[tokio::test]
async fn step5_a_slow_redis_within_the_timeout_is_not_a_failure() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailClosed).await?;
    limiter.try_acquire("k", 1).await?;
    proxy.slow(ms(20));
    let (decision, _) = decide_logged(&limiter, "k").await?;
    assert!(
        decision.allowed && !decision.degraded,
        "40 ms round trips fit a {TIMEOUT:?} budget: {decision:?}"
    );
    assert_eq!(
        decision.remaining, 1,
        "the decision came from Redis: 3 - 2 = 1 left"
    );
    Ok(())
}

/// After an outage the same limiter uses Redis again, without a restart, and the
/// state from before the outage is still there.
#[tokio::test]
async fn step5_the_limiter_recovers_when_redis_returns() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailClosed).await?;
    limiter.try_acquire("k", 2).await?;
    proxy.cut();
    assert!(decide_logged(&limiter, "k").await?.0.degraded);
    proxy.restore();
    labkit::eventually(
        secs(10),
        "a non-degraded decision after Redis came back",
        || async { Ok(!limiter.try_acquire("k", 0).await?.degraded) },
    )
    .await?;
    let d = limiter.try_acquire("k", 1).await?;
    assert!(
        d.allowed && !d.degraded && d.remaining == 0,
        "1 of 3 was left before the outage: {d:?}"
    );
    assert!(
        !limiter.try_acquire("k", 1).await?.allowed,
        "and nothing after it"
    );
    Ok(())
}

/// Through the middleware, a fail-closed outage is a 503 with `Retry-After` —
/// the limiter failed, not the client, so it is not a 429.
#[tokio::test]
async fn step5_a_fail_closed_outage_reaches_http_clients_as_503_with_retry_after()
-> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, server) = served_behind_a_proxy(&redis, FailurePolicy::FailClosed).await?;
    assert_eq!(server.get("/hello", &[]).await?.status, 200);
    proxy.cut();
    let response = server.get("/hello", &[]).await?;
    assert_eq!(
        response.status,
        503,
        "README step 5: fail closed through HTTP is 503, got {} {}",
        response.status,
        response.text()
    );
    assert!(
        response.header("retry-after").is_some(),
        "a 503 from the limiter says when to retry"
    );
    Ok(())
}

/// Through the middleware, a fail-open outage lets requests through (200): the
/// policy chose availability, so HTTP must not turn it into a 503.
#[tokio::test]
async fn step5_a_fail_open_outage_reaches_http_clients_as_the_handlers_answer() -> anyhow::Result<()>
{
    let redis = labkit::TestRedis::new().await?;
    let (proxy, server) = served_behind_a_proxy(&redis, FailurePolicy::FailOpen).await?;
    proxy.cut();
    let response = server.get("/hello", &[]).await?;
    assert_eq!(
        (response.status, response.text()),
        (200, "hello".to_string()),
        "README step 5: fail open allows — through HTTP too"
    );
    Ok(())
}

/// A Redis that restarted (or failed over) has forgotten every loaded script:
/// the next decision must still be an ordinary one, not an outage. `EVALSHA`
/// alone answers NOSCRIPT forever; `EVALSHA`, then `EVAL` on NOSCRIPT (what
/// `redis::Script` does), recovers.
#[tokio::test]
async fn step5_a_redis_that_forgot_its_scripts_still_decides() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (_proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailClosed).await?;
    assert!(limiter.try_acquire("k", 1).await?.allowed);
    let mut direct = redis.connection().await?;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut direct)
        .await?;
    let (decision, _) = decide_logged(&limiter, "k").await?;
    assert!(
        decision.allowed && !decision.degraded && decision.remaining == 1,
        "after SCRIPT FLUSH the limiter must reload its script, not fail: {decision:?}"
    );
    Ok(())
}
