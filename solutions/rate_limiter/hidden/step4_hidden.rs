//! Hidden tests of step 4 — the limiter in front of an axum router. Handlers are
//! called with `oneshot` (no socket), as in the visible step 4.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;

use crate::support::http::{app, app_on, header, request, send, structured};
use crate::support::{clock, quota, secs};

/// An API key identifies its client by itself: without a client address, keyed requests are limited by their key and a malformed key is still a 400.
#[tokio::test]
async fn step4_a_request_with_an_api_key_needs_no_client_address() {
    let (app, handled) = app(quota(2, 1, secs(60)));
    for left in [1u64, 0] {
        let response = send(&app, request(None, Some(b"key-a"))).await;
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
    let refused = send(&app, request(None, Some(b"key-a"))).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "key-a's quota of 2 is spent, with or without a client address"
    );
    let malformed = send(&app, request(None, Some(b"a/b"))).await;
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
    let (app, _) = app_on(quota(1, 1, Duration::from_micros(1_000_500)), clock.clone());
    let first = send(&app, request(Some("10.0.0.6:1"), None)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let (_, policy) = structured(header(&first, "ratelimit-policy").unwrap_or_default());
    let (_, current) = structured(header(&first, "ratelimit").unwrap_or_default());

    let refused = send(&app, request(Some("10.0.0.6:1"), None)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(&refused, "retry-after")
        .unwrap_or_default()
        .to_string();
    let wait: u64 = retry_after
        .parse()
        .expect("README step 4: Retry-After is whole seconds");
    clock.advance(secs(wait));
    assert_eq!(
        send(&app, request(Some("10.0.0.6:1"), None)).await.status(),
        StatusCode::OK,
        "the client waited the Retry-After: {retry_after} it was told, 1.0005 s were needed, and \
         it was refused again (README step 4: whole seconds rounded up — a client told 1 comes \
         back early and is refused again)"
    );
    assert_eq!(retry_after, "2", "Retry-After for 1.0005 s rounds up to 2");
    assert_eq!(policy.get("w"), Some(&2), "w for a 1.0005 s window");
    assert_eq!(current.get("t"), Some(&2), "t: full again in 1.0005 s");
}
