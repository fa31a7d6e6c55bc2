//! Hidden tests of step 5 — what the limiter does when Redis is gone. Faults come
//! from labkit's proxy between the limiter and Redis, as in the visible step 5.

use rate_limiter::FailurePolicy;

use crate::support::faults::served_behind_a_proxy;

/// A fail-open outage is the handler's own answer: no `RateLimit` field, which could only be invented (`r=0;t=0` says the quota is spent and whole at once).
#[tokio::test]
async fn step5_a_fail_open_outage_advertises_no_quota_it_could_not_read() -> anyhow::Result<()> {
    let redis = labkit::TestRedis::new().await?;
    let (proxy, server) = served_behind_a_proxy(&redis, FailurePolicy::FailOpen).await?;
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
