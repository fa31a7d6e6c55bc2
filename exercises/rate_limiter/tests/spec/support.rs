//! Helpers shared by the steps. Nothing here decides pass or fail on its own.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rate_limiter::{Clock, FailurePolicy, ManualClock, Quota, RedisTokenBucket};

/// A manual clock starting on a whole second (so window edges fall on whole
/// seconds for windows of 1 s, 2 s, 5 s …), far from zero.
pub fn clock() -> ManualClock {
    ManualClock::new(Duration::from_secs(1_700_000_000))
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `Quota::new`, for quotas the test knows are valid.
pub fn quota(capacity: u64, refill_amount: u64, refill_period: Duration) -> Quota {
    Quota::new(capacity, refill_amount, refill_period).expect("the test's quota is valid")
}

/// A Redis bucket for this test: its own connection, the test's key prefix,
/// and a decision budget of seconds. Step 3's tests are about the decision,
/// not the budget: with the 50 ms default, one slow answer on a loaded CI
/// machine would come back degraded and fail a correct bucket. (Step 5 tests
/// the budget itself, through a fault proxy.) Fail closed, so that a decision
/// that did time out is never mistaken for an admission.
pub async fn redis_bucket(
    redis: &labkit::TestRedis,
    quota: Quota,
    clock: impl Clock,
) -> anyhow::Result<RedisTokenBucket> {
    Ok(
        RedisTokenBucket::new(redis.connection().await?, redis.prefix(), quota, clock)
            .with_failure_policy(FailurePolicy::FailClosed, Duration::from_secs(10)),
    )
}

/// `|a - b| <= tolerance`, for durations reported by a limiter.
pub fn close_to(actual: Duration, expected: Duration, tolerance: Duration) -> bool {
    actual.abs_diff(expected) <= tolerance
}

/// Call `attempt` `attempts` times on each of `threads` threads, all released at
/// the same instant, and count how many calls returned true. The barrier matters:
/// threads started one by one barely overlap, and a race needs overlap.
pub fn hammer(threads: usize, attempts: usize, attempt: impl Fn() -> bool + Sync) -> u64 {
    let admitted = AtomicU64::new(0);
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start.wait();
                for _ in 0..attempts {
                    if attempt() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    admitted.into_inner()
}

/// Step 4's (and the hidden tests') view of the middleware: an app on a
/// manual clock, requests built by hand, handlers called with `oneshot`.
pub mod http {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::ConnectInfo;
    use axum::http::{HeaderValue, Request};
    use axum::response::Response;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use rate_limiter::{Limiter, ManualClock, Quota, TokenBucket, rate_limited};
    use tower::ServiceExt;

    /// The app under test, on a clock of its own: one route that counts how
    /// often it actually ran.
    pub fn app(quota: Quota) -> (Router, Arc<AtomicU64>) {
        app_on(quota, super::clock())
    }

    /// The same, on the caller's clock.
    pub fn app_on(quota: Quota, clock: ManualClock) -> (Router, Arc<AtomicU64>) {
        let handled = Arc::new(AtomicU64::new(0));
        let counter = handled.clone();
        let router = Router::new().route(
            "/hello",
            get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "hello"
            }),
        );
        let limiter: Arc<dyn Limiter> = Arc::new(TokenBucket::new(quota, clock));
        (rate_limited(router, limiter), handled)
    }

    /// A GET, optionally with an API key (raw bytes, so tests can send invalid
    /// ones), from `peer` if given — or with no client address at all, as from
    /// a router served with `into_make_service` instead of
    /// `into_make_service_with_connect_info`.
    pub fn request(peer: Option<&str>, api_key: Option<&[u8]>) -> Request<Body> {
        let mut request = Request::builder()
            .uri("/hello")
            .body(Body::empty())
            .expect("a valid request");
        if let Some(key) = api_key {
            let value =
                HeaderValue::from_bytes(key).expect("the test's header bytes are a header value");
            request.headers_mut().insert("x-api-key", value);
        }
        if let Some(peer) = peer {
            let peer: SocketAddr = peer.parse().expect("test peers are valid socket addresses");
            // What `into_make_service_with_connect_info` adds on a real connection.
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        request
    }

    /// A GET from `peer`, optionally with an API key.
    pub fn get_from(peer: &str, api_key: Option<&[u8]>) -> Request<Body> {
        request(Some(peer), api_key)
    }

    pub async fn send(app: &Router, request: Request<Body>) -> Response {
        app.clone()
            .oneshot(request)
            .await
            .expect("the router's error type is Infallible")
    }

    pub fn header<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body.
    pub async fn body_bytes(response: Response) -> Bytes {
        response
            .into_body()
            .collect()
            .await
            .expect("an in-memory body is read whole")
            .to_bytes()
    }

    /// Parse a one-member structured field like `"default";r=4;t=12` into the
    /// policy name and its integer parameters.
    pub fn structured(value: &str) -> (String, HashMap<String, u64>) {
        let mut parts = value.split(';').map(str::trim);
        let name = parts
            .next()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        let params = parts
            .filter_map(|p| p.split_once('='))
            .filter_map(|(k, v)| Some((k.trim().to_string(), v.trim().parse().ok()?)))
            .collect();
        (name, params)
    }
}

/// Step 5's (and the hidden tests') limiter behind a fault proxy.
pub mod faults {
    use std::time::Duration;

    use rate_limiter::{FailurePolicy, RedisTokenBucket};

    /// The decision budget the tests configure.
    pub const TIMEOUT: Duration = Duration::from_millis(500);
    /// The Redis client's own response timeout in these tests: well past the
    /// tests' bound on a hung decision (ten times [`TIMEOUT`]).
    pub const LIBRARY_TIMEOUT: Duration = Duration::from_secs(30);

    /// A limiter (quota 3, one a minute) whose Redis connection goes through
    /// a fault proxy.
    pub async fn behind_a_proxy(
        redis: &labkit::TestRedis,
        policy: FailurePolicy,
    ) -> anyhow::Result<(labkit::FaultProxy, RedisTokenBucket)> {
        let proxy = labkit::FaultProxy::for_url(redis.url()).await?;
        // The client library's own timeout is set far beyond the tests' bound
        // on purpose: the limiter's timeout must be what ends a decision.
        // (With the library's at or under it, a limiter with no timeout would
        // be rescued by it and pass.)
        let config = labkit::redis::manager_config().set_response_timeout(Some(LIBRARY_TIMEOUT));
        let conn = labkit::redis::connect_with(proxy.url(), config).await?;
        let limiter = RedisTokenBucket::new(
            conn,
            redis.prefix(),
            super::quota(3, 1, super::secs(60)),
            super::clock(),
        )
        .with_failure_policy(policy, TIMEOUT);
        Ok((proxy, limiter))
    }

    /// That limiter in front of one `/hello` route, served on a real socket.
    pub async fn served_behind_a_proxy(
        redis: &labkit::TestRedis,
        policy: FailurePolicy,
    ) -> anyhow::Result<(labkit::FaultProxy, labkit::http::TestServer)> {
        let (proxy, limiter) = behind_a_proxy(redis, policy).await?;
        let limiter: std::sync::Arc<dyn rate_limiter::Limiter> = std::sync::Arc::new(limiter);
        let app = rate_limiter::rate_limited(
            axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" })),
            limiter,
        );
        let server = labkit::http::TestServer::start(app).await?;
        Ok((proxy, server))
    }
}
