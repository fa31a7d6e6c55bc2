//! Hidden tests of step 5 — what the limiter does when Redis is gone. Faults come
//! from labkit's proxy between the limiter and Redis, as in the visible step 5.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rate_limiter::{FailurePolicy, Limiter, RedisTokenBucket, rate_limited};

use crate::support::{clock, quota, secs};

/// The decision budget the tests configure.
const TIMEOUT: Duration = Duration::from_millis(500);
/// The Redis client's own response timeout: far past the budget, so that the
/// limiter's timeout is what ends a decision.
const LIBRARY_TIMEOUT: Duration = Duration::from_secs(30);

/// A limiter whose Redis connection goes through a fault proxy (as the visible
/// step 5 builds it).
async fn behind_a_proxy(
    redis: &labkit::TestRedis,
    policy: FailurePolicy,
) -> anyhow::Result<(labkit::FaultProxy, RedisTokenBucket)> {
    let proxy = labkit::FaultProxy::for_url(redis.url()).await?;
    let config = labkit::redis::manager_config().set_response_timeout(Some(LIBRARY_TIMEOUT));
    let conn = labkit::redis::connect_with(proxy.url(), config).await?;
    let limiter = RedisTokenBucket::new(conn, redis.prefix(), quota(3, 1, secs(60)), clock())
        .with_failure_policy(policy, TIMEOUT);
    Ok((proxy, limiter))
}

/// A fail-open outage is the handler's own answer: no `RateLimit` field, which could only be invented (`r=0;t=0` says the quota is spent and whole at once).
#[tokio::test]
async fn step5_a_fail_open_outage_advertises_no_quota_it_could_not_read() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, limiter) = behind_a_proxy(&redis, FailurePolicy::FailOpen).await?;
    let limiter: Arc<dyn Limiter> = Arc::new(limiter);
    let app = rate_limited(
        Router::new().route("/hello", get(|| async { "hello" })),
        limiter,
    );
    let server = labkit::http::TestServer::start(app).await?;
    let healthy = server.get("/hello", &[]).await?;
    assert_eq!(healthy.status, 200, "{}", healthy.text());
    assert!(
        healthy.header("ratelimit").is_some(),
        "with Redis up, an allowed response carries RateLimit (README step 4)"
    );
    proxy.cut();
    let response = server.get("/hello", &[]).await?;
    assert_eq!(
        (response.status, response.text()),
        (200, "hello".to_string()),
        "README step 5: fail open allows, through HTTP too"
    );
    assert_eq!(
        response.header("ratelimit"),
        None,
        "README step 5: a fail-open outage is the handler's own answer. Redis was not read, so \
         any RateLimit field is invented, and r=0;t=0 contradicts itself (README step 4: t is 0 \
         only when the quota is already whole) and tells clients to back off from an API that \
         chose to stay open"
    );
    Ok(())
}
