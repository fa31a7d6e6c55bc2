//! Step 4 — the limiter in front of an axum router.
//!
//! README, step 4: 429 with `Retry-After` when over quota; the `RateLimit` and
//! `RateLimit-Policy` fields of the IETF ratelimit-headers draft; keyed by
//! `x-api-key`, else by client IP; a malformed key is a 400 that costs no one
//! anything. Handlers are called with `oneshot` (no socket), plus one test over a
//! real socket.

use std::sync::atomic::Ordering;

use axum::http::{HeaderValue, StatusCode};
use tracing::instrument::WithSubscriber;

use crate::support::http::{app, body_bytes, get_from, header, request, send, structured};
use crate::support::{quota, secs};

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
    let body = body_bytes(response).await;
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
    let body = body_bytes(refused).await;
    let problem: serde_json::Value = serde_json::from_slice(&body).expect("the 429 body is JSON");
    assert_eq!(
        problem["status"], 429,
        "problem+json carries the status: {problem}"
    );
    assert_eq!(
        problem["type"], "/problems/rate-limited",
        "README step 4: the problem type names what happened: {problem}"
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
    // Visible ASCII outside the alphabet too: `/`, `:`, `{`, `@` are not key characters.
    let malformed: [&[u8]; 8] = [
        b"",
        &too_long,
        b"has space",
        b"caf\xc3\xa9",
        b"a/b",
        b"a:b",
        b"{x}",
        b"a@b",
    ];
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

/// The edges of the key format are accepted: exactly 64 characters, and every
/// character of the alphabet `A-Z a-z 0-9 - _ . ~`; each is its own client.
#[tokio::test]
async fn step4_a_key_of_exactly_64_characters_from_the_whole_alphabet_is_accepted() {
    let (app, _) = app(quota(2, 1, secs(60)));
    let longest = vec![b'a'; 64];
    let keys: [&[u8]; 3] = [&longest, b"Az09-_.~", b"z"];
    for key in keys {
        let response = send(&app, get_from("10.0.0.4:1", Some(key))).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "x-api-key {:?} is well formed (README: 1-64 of A-Z a-z 0-9 - _ . ~)",
            String::from_utf8_lossy(key)
        );
        let (_, params) = structured(header(&response, "ratelimit").unwrap_or_default());
        assert_eq!(
            params.get("r"),
            Some(&1),
            "key {:?}: its own bucket, one of two spent",
            String::from_utf8_lossy(key)
        );
    }
}

/// Two `x-api-key` headers are a 400 (README, bad input): which one counts would
/// otherwise be up to the proxy in front. Nobody is charged.
#[tokio::test]
async fn step4_two_api_key_headers_get_400_and_cost_nobody_anything() {
    let (app, handled) = app(quota(1, 1, secs(60)));
    let mut request = get_from("10.0.0.5:1", Some(b"key-a"));
    request
        .headers_mut()
        .append("x-api-key", HeaderValue::from_static("key-b"));
    let response = send(&app, request).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "README bad input: two x-api-key headers are a 400"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 0);
    for key in [b"key-a".as_slice(), b"key-b"] {
        assert_eq!(
            send(&app, get_from("10.0.0.5:1", Some(key))).await.status(),
            StatusCode::OK,
            "the refused request charged {}",
            String::from_utf8_lossy(key)
        );
    }
}

/// Whole seconds round up, for `Retry-After`, `t` and `w` alike: 1.4 s is "2",
/// never "1" (a client told 1 s comes back too early and is refused again);
/// exactly 1 s is "1".
#[tokio::test]
async fn step4_seconds_round_up_and_an_exact_second_stays_one() {
    let (uneven, _) = app(quota(1, 1, std::time::Duration::from_millis(1400)));
    let first = send(&uneven, get_from("10.0.0.6:1", None)).await;
    let (_, policy) = structured(header(&first, "ratelimit-policy").unwrap_or_default());
    assert_eq!(policy.get("w"), Some(&2), "w for a 1.4 s window");
    let (_, current) = structured(header(&first, "ratelimit").unwrap_or_default());
    assert_eq!(current.get("t"), Some(&2), "t: full again in 1.4 s");
    let refused = send(&uneven, get_from("10.0.0.6:1", None)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&refused, "retry-after"),
        Some("2"),
        "README step 4: 1.4 s until a token rounds up to 2"
    );

    let (whole, _) = app(quota(1, 1, secs(1)));
    send(&whole, get_from("10.0.0.6:1", None)).await;
    let refused = send(&whole, get_from("10.0.0.6:1", None)).await;
    assert_eq!(
        header(&refused, "retry-after"),
        Some("1"),
        "exactly 1 s is \"1\", not \"2\""
    );
}

/// On a 429, `t` is still the time until the quota is whole again (every token
/// back), not the time until the next request passes.
#[tokio::test]
async fn step4_a_429_says_when_the_whole_quota_is_back() {
    let (app, _) = app(quota(2, 1, secs(12)));
    send(&app, get_from("10.0.0.1:4000", None)).await;
    send(&app, get_from("10.0.0.1:4000", None)).await;
    let refused = send(&app, get_from("10.0.0.1:4000", None)).await;
    assert_eq!(header(&refused, "retry-after"), Some("12"));
    let current = header(&refused, "ratelimit")
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        structured(&current).1.get("t"),
        Some(&24),
        "RateLimit {current}: two tokens at 12 s each are whole again in 24 s (README step 4: \
         t = seconds until the quota is whole again)"
    );
}

/// A router served without client addresses, asked by a client with no key:
/// 500 problem+json, the detail logged, the handler never run. Charging such
/// requests to one shared bucket would let one client exhaust everyone.
#[tokio::test]
async fn step4_without_client_addresses_a_keyless_request_is_500_and_logged() {
    let (app, handled) = app(quota(5, 1, secs(60)));
    let (dispatch, logs) = labkit::capture_logs();
    let response = send(&app, request(None, None))
        .with_subscriber(dispatch)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "README bad input: no ConnectInfo and no key is a 500, not a request charged to some \
         shared bucket"
    );
    assert!(
        logs.contains("ERROR", "") || logs.contains("WARN", ""),
        "README bad input: the 500's detail is logged for the operator; logged:\n{}",
        logs.text()
    );
    assert_eq!(
        header(&response, "content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        handled.load(Ordering::SeqCst),
        0,
        "a request nobody can be charged for never reaches the handler"
    );
}

/// The 500 of a wiring mistake tells the client nothing about the wiring:
/// neither its `title` nor its `detail` (nor anything else in the body) names
/// `ConnectInfo`, `into_make_service…` or `SocketAddr`. That detail is for the
/// operator's log.
#[tokio::test]
async fn step4_a_500_body_reveals_nothing_internal() {
    let (app, _) = app(quota(5, 1, secs(60)));
    let response = send(&app, request(None, None)).await;
    let body = body_bytes(response).await;
    let text = String::from_utf8_lossy(&body);
    for internal in [
        "ConnectInfo",
        "connect_info",
        "into_make_service",
        "SocketAddr",
    ] {
        assert!(
            !text.contains(internal),
            "the body names {internal:?}: a 500 never tells the client its internal detail, \
             in its title, its detail or anywhere else (README bad input: logged, not sent): \
             {text}"
        );
    }
}

/// A problem's `type` and `title` are fixed for its kind (RFC 9457: the title
/// does not change from occurrence to occurrence); what was wrong this time
/// goes in `detail`. Every malformed key, whatever is wrong with it, is the
/// same problem with the same title.
#[tokio::test]
async fn step4_a_problem_title_is_the_same_for_every_occurrence_of_its_kind() {
    let (app, _) = app(quota(5, 1, secs(60)));
    let too_long = vec![b'a'; 65];
    let mut problems = Vec::new();
    let malformed: [&[u8]; 3] = [b"", &too_long, b"has space"];
    for key in malformed {
        let response = send(&app, get_from("10.0.0.2:1", Some(key))).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "x-api-key {:?} is malformed (README step 4)",
            String::from_utf8_lossy(key)
        );
        let body = body_bytes(response).await;
        let problem: serde_json::Value =
            serde_json::from_slice(&body).expect("the 400 body is problem+json");
        problems.push((String::from_utf8_lossy(key).into_owned(), problem));
    }
    let (_, first) = &problems[0];
    assert!(
        first["title"].as_str().is_some_and(|t| !t.is_empty()),
        "a problem has a title: {first}"
    );
    for (key, problem) in &problems[1..] {
        assert_eq!(
            (&problem["type"], &problem["title"]),
            (&first["type"], &first["title"]),
            "x-api-key {key:?} and an empty one are the same kind of problem, so the same type \
             and title; what differs belongs in detail (README step 4: the title is fixed for \
             its kind): {problem} vs {first}"
        );
    }
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
