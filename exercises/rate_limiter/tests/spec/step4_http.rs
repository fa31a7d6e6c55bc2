//! Step 4 — the limiter in front of an axum router.
//!
//! README, step 4: 429 with `Retry-After` when over quota; the `RateLimit` and
//! `RateLimit-Policy` fields of the IETF ratelimit-headers draft; keyed by
//! `x-api-key`, else by client IP; a malformed key is a 400 that costs no one
//! anything. Handlers are called with `oneshot` (no socket), plus one test over a
//! real socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use http_body_util::BodyExt;
use rate_limiter::{Limiter, Quota, TokenBucket, rate_limited};
use tower::ServiceExt;

use crate::support::{clock, quota, secs};

/// The app under test: one route that counts how often it actually ran.
fn app(quota: Quota) -> (Router, Arc<AtomicU64>) {
    let handled = Arc::new(AtomicU64::new(0));
    let counter = handled.clone();
    let router = Router::new().route(
        "/hello",
        get(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "hello"
        }),
    );
    let limiter: Arc<dyn Limiter> = Arc::new(TokenBucket::new(quota, clock()));
    (rate_limited(router, limiter), handled)
}

/// A GET from `peer`, optionally with an API key (raw bytes, so tests can send invalid ones).
fn get_from(peer: &str, api_key: Option<&[u8]>) -> Request<Body> {
    let peer: SocketAddr = peer.parse().expect("test peers are valid socket addresses");
    let mut request = Request::builder()
        .uri("/hello")
        .body(Body::empty())
        .expect("a valid request");
    if let Some(key) = api_key {
        let value =
            HeaderValue::from_bytes(key).expect("the test's header bytes are a header value");
        request.headers_mut().insert("x-api-key", value);
    }
    // What `into_make_service_with_connect_info` adds on a real connection.
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

async fn send(app: &Router, request: Request<Body>) -> Response {
    app.clone()
        .oneshot(request)
        .await
        .expect("the router's error type is Infallible")
}

fn header<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Parse a one-member structured field like `"default";r=4;t=12` into the
/// policy name and its integer parameters.
fn structured(value: &str) -> (String, HashMap<String, u64>) {
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

/// An allowed response is the handler's, plus the policy (quota and window) and
/// what is left of it, in the draft's syntax.
#[tokio::test]
async fn step4_an_allowed_response_carries_the_policy_and_the_remaining_quota() {
    // 5 per minute: a burst of 5, one back every 12 s.
    let (app, handled) = app(quota(5, 1, secs(12)));
    let response = send(&app, get_from("10.0.0.1:4000", None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let policy = header(&response, "ratelimit-policy")
        .expect("README step 4: allowed responses carry RateLimit-Policy");
    let (name, params) = structured(policy);
    assert!(
        policy.starts_with('"'),
        "the policy name is a quoted string in the current draft: {policy}"
    );
    assert_eq!(
        (params.get("q"), params.get("w")),
        (Some(&5), Some(&60)),
        "RateLimit-Policy {policy}: q=5 per w=60 s"
    );
    let current =
        header(&response, "ratelimit").expect("README step 4: allowed responses carry RateLimit");
    let (current_name, current_params) = structured(current);
    assert_eq!(
        current_name, name,
        "RateLimit names the same policy as RateLimit-Policy"
    );
    assert_eq!(
        current_params.get("r"),
        Some(&4),
        "RateLimit {current}: 4 remaining after one request"
    );
    assert_eq!(
        current_params.get("t"),
        Some(&12),
        "RateLimit {current}: full again in 12 s"
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"hello");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

/// Over quota: 429, `Retry-After` in whole seconds, `RateLimit` with nothing
/// left, a problem+json body — and the handler never runs.
#[tokio::test]
async fn step4_an_exhausted_client_gets_429_with_retry_after() {
    let (app, handled) = app(quota(2, 1, secs(12)));
    for _ in 0..2 {
        assert_eq!(
            send(&app, get_from("10.0.0.1:4000", None)).await.status(),
            StatusCode::OK
        );
    }
    let refused = send(&app, get_from("10.0.0.1:4000", None)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&refused, "retry-after"),
        Some("12"),
        "README step 4: a 429 must say when to come back (Retry-After, in seconds)"
    );
    let current = header(&refused, "ratelimit").expect("a 429 carries RateLimit too");
    assert_eq!(
        structured(current).1.get("r"),
        Some(&0),
        "RateLimit {current}: nothing remaining"
    );
    assert_eq!(
        header(&refused, "content-type"),
        Some("application/problem+json")
    );
    let body = refused
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).expect("the 429 body is JSON");
    assert_eq!(
        problem["status"], 429,
        "problem+json carries the status: {problem}"
    );
    assert_eq!(
        handled.load(Ordering::SeqCst),
        2,
        "a refused request must never reach the handler"
    );
}

/// `Retry-After` rounds up: 500 ms is "1", never "0" (which invites an
/// immediate, refused retry).
#[tokio::test]
async fn step4_retry_after_rounds_up_and_is_never_zero() {
    let (app, _) = app(quota(2, 2, secs(1)));
    send(&app, get_from("10.0.0.1:1", None)).await;
    send(&app, get_from("10.0.0.1:1", None)).await;
    let refused = send(&app, get_from("10.0.0.1:1", None)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), Some("1"));
}

/// Requests with an API key count against the key, wherever they come from.
#[tokio::test]
async fn step4_clients_are_keyed_by_api_key_when_one_is_sent() {
    let (app, _) = app(quota(1, 1, secs(60)));
    assert_eq!(
        send(&app, get_from("10.0.0.1:1", Some(b"key-a")))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_from("10.0.0.2:1", Some(b"key-a")))
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the same key from another address is the same client"
    );
    assert_eq!(
        send(&app, get_from("10.0.0.1:1", Some(b"key-b")))
            .await
            .status(),
        StatusCode::OK,
        "another key from the same address is another client"
    );
}

/// Without a key, the client is its IP address — not its socket address: a new
/// connection (new source port) must not get a fresh quota.
#[tokio::test]
async fn step4_clients_without_a_key_are_keyed_by_ip_across_connections() {
    let (app, _) = app(quota(1, 1, secs(60)));
    assert_eq!(
        send(&app, get_from("10.0.0.7:50001", None)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_from("10.0.0.7:50002", None)).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "README step 4: key by IP; the source port changes with every connection"
    );
    assert_eq!(
        send(&app, get_from("10.0.0.8:50001", None)).await.status(),
        StatusCode::OK
    );
}

/// An API key that happens to look like an address does not share that
/// address's bucket.
#[tokio::test]
async fn step4_an_api_key_never_shares_a_bucket_with_an_address() {
    let (app, _) = app(quota(1, 1, secs(60)));
    assert_eq!(
        send(&app, get_from("10.0.0.9:1", None)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, get_from("10.0.0.1:1", Some(b"10.0.0.9")))
            .await
            .status(),
        StatusCode::OK,
        "the key \"10.0.0.9\" and the address 10.0.0.9 are different clients"
    );
}

/// A malformed `x-api-key` is a 400 with a problem+json body, and counts against
/// nobody: afterwards the sender's address still has its whole quota.
#[tokio::test]
async fn step4_a_malformed_api_key_gets_400_and_costs_nobody_anything() {
    let (app, handled) = app(quota(2, 1, secs(60)));
    let too_long = vec![b'a'; 65];
    let malformed: [&[u8]; 4] = [b"", &too_long, b"has space", b"caf\xc3\xa9"];
    for key in malformed {
        let response = send(&app, get_from("10.0.0.3:1", Some(key))).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "x-api-key {:?} is malformed (README step 4: 1-64 of A-Z a-z 0-9 - _ . ~)",
            String::from_utf8_lossy(key)
        );
        assert_eq!(
            header(&response, "content-type"),
            Some("application/problem+json")
        );
    }
    let first = send(&app, get_from("10.0.0.3:1", None)).await;
    let (_, params) = structured(header(&first, "ratelimit").unwrap_or_default());
    assert_eq!(
        params.get("r"),
        Some(&1),
        "the malformed requests must not have counted against 10.0.0.3"
    );
    assert_eq!(
        send(&app, get_from("10.0.0.3:1", None)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        handled.load(Ordering::SeqCst),
        2,
        "malformed requests never reach the handler"
    );
}

/// Over a real socket the client address comes from the connection, and the
/// whole path works end to end.
#[tokio::test]
async fn step4_the_middleware_works_over_a_real_socket() -> anyhow::Result<()> {
    let (app, _) = app(quota(1, 1, secs(30)));
    let server = labkit::http::TestServer::start(app).await?;
    let first = server.get("/hello", &[]).await?;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.text(), "hello");
    let second = server.get("/hello", &[]).await?;
    assert_eq!(
        second.status, 429,
        "a second connection from 127.0.0.1 shares the quota"
    );
    assert_eq!(second.header("retry-after"), Some("30"));
    Ok(())
}
