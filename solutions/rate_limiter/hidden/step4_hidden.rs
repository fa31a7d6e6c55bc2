//! Hidden tests of step 4 — the limiter in front of an axum router. Handlers are
//! called with `oneshot` (no socket), as in the visible step 4.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use rate_limiter::{Limiter, ManualClock, Quota, TokenBucket, rate_limited};
use tower::ServiceExt;

use crate::support::{clock, quota, secs};

/// The app under test, on the given clock: one route that counts how often it ran.
fn app(quota: Quota, clock: ManualClock) -> (Router, Arc<AtomicU64>) {
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

/// A GET, optionally with an API key, from `peer` if given — or with no client
/// address at all, as from a router served without `ConnectInfo`.
fn hello_request(peer: Option<&str>, api_key: Option<&[u8]>) -> Request<Body> {
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

/// An API key identifies its client by itself: without a client address, keyed requests are limited by their key and a malformed key is still a 400.
#[tokio::test]
async fn step4_a_request_with_an_api_key_needs_no_client_address() {
    let (app, handled) = app(quota(2, 1, secs(60)), clock());
    for left in [1u64, 0] {
        let response = send(&app, hello_request(None, Some(b"key-a"))).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "README bad input: only a request with no ConnectInfo *and* no key is a 500; this one \
             has a key, and a key is the client"
        );
        let (_, params) = structured(header(&response, "ratelimit").unwrap_or_default());
        assert_eq!(
            params.get("r"),
            Some(&left),
            "the request counted against key-a: {left} of 2 left"
        );
    }
    let refused = send(&app, hello_request(None, Some(b"key-a"))).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "key-a's quota of 2 is spent, with or without a client address"
    );
    let malformed = send(&app, hello_request(None, Some(b"a/b"))).await;
    assert_eq!(
        malformed.status(),
        StatusCode::BAD_REQUEST,
        "README bad input: a malformed x-api-key is a 400 (the client's mistake), with or \
         without a client address — not the 500 of a wiring mistake"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 2);
}

/// Seconds round up below the millisecond too: a 1.0005 s refill is `w=2`, `t=2` and `Retry-After: 2`, and waiting that `Retry-After` is enough.
#[tokio::test]
async fn step4_seconds_round_up_below_the_millisecond_too() {
    let clock = clock();
    // One request per 1.0005 s: every duration here is a whole second and a half
    // millisecond.
    let (app, _) = app(quota(1, 1, Duration::from_micros(1_000_500)), clock.clone());
    let first = send(&app, hello_request(Some("10.0.0.6:1"), None)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (_, policy) = structured(header(&first, "ratelimit-policy").unwrap_or_default());
    let (_, current) = structured(header(&first, "ratelimit").unwrap_or_default());

    let refused = send(&app, hello_request(Some("10.0.0.6:1"), None)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(&refused, "retry-after")
        .unwrap_or_default()
        .to_string();
    let wait: u64 = retry_after
        .parse()
        .expect("README step 4: Retry-After is whole seconds");
    clock.advance(secs(wait));
    assert_eq!(
        send(&app, hello_request(Some("10.0.0.6:1"), None))
            .await
            .status(),
        StatusCode::OK,
        "the client waited the Retry-After: {retry_after} it was told, 1.0005 s were needed, and \
         it was refused again (README step 4: whole seconds rounded up — a client told 1 comes \
         back early and is refused again)"
    );
    assert_eq!(retry_after, "2", "Retry-After for 1.0005 s rounds up to 2");
    assert_eq!(policy.get("w"), Some(&2), "w for a 1.0005 s window");
    assert_eq!(current.get("t"), Some(&2), "t: full again in 1.0005 s");
}
