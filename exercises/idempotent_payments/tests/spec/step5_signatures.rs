//! Step 5 — replay attacks: requests are signed (HMAC-SHA256 over the timestamp,
//! method, path and body); anything unsigned, altered, stale or signed with an
//! unknown key is 401; two secrets may be active during a rotation; and a
//! captured request replayed within the window is answered from the idempotency
//! record, never executed again.

use crate::support::{CLIENT, SECRET, TestApp, TestRequest, payment, signature};

async fn app_with_accounts() -> anyhow::Result<TestApp> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 1_000_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(app)
}

fn assert_unauthenticated(response: &crate::support::TestResponse, what: &str) {
    assert_eq!(
        response.status,
        401,
        "README step 5: {what} must be refused with 401, got {}: {}",
        response.status,
        response.text()
    );
    assert_eq!(
        response.problem_type(),
        "/problems/unauthenticated",
        "{what}"
    );
}

/// Requests without a signature, or without a client, are refused — reads too.
#[tokio::test]
async fn step5_unsigned_requests_are_refused() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let body = payment(100, "acct_alice", "acct_bob");
    let unsigned_post = app
        .send(
            TestRequest::post("/v1/payments", &body)
                .idempotency_key("k")
                .unsigned()
                .header("x-client-id", CLIENT),
        )
        .await;
    assert_unauthenticated(&unsigned_post, "an unsigned POST");
    let unsigned_get = app
        .send(
            TestRequest::get("/v1/payments")
                .unsigned()
                .header("x-client-id", CLIENT),
        )
        .await;
    assert_unauthenticated(&unsigned_get, "an unsigned GET");
    let anonymous = app.send(TestRequest::get("/v1/payments").unsigned()).await;
    assert_unauthenticated(&anonymous, "a request naming no client");
    assert_eq!(app.written().await, (0, 0, 0));
    Ok(())
}

/// The timestamp must lie within five minutes of the server's clock, either way.
#[tokio::test]
async fn step5_a_timestamp_outside_five_minutes_is_refused() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let now = app.clock_secs();
    for (offset, ok) in [(-301, false), (301, false), (-299, true), (299, true)] {
        let response = app
            .send(TestRequest::get("/v1/payments").at(now + offset))
            .await;
        if ok {
            assert_eq!(
                response.status,
                200,
                "a signature {offset} s off is inside the window: {}",
                response.text()
            );
        } else {
            assert_unauthenticated(&response, &format!("a signature {offset} s off"));
        }
    }
    Ok(())
}

/// A signature covers the exact method, path and body: change one byte of any
/// and it no longer matches.
#[tokio::test]
async fn step5_changing_any_byte_of_the_request_breaks_the_signature() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let now = app.clock_secs();
    let body = payment(100, "acct_alice", "acct_bob").to_string();
    let signed_for = |method: &str, path: &str, bytes: &str| {
        signature(SECRET, now, method, path, bytes.as_bytes())
    };
    let tampered = body.replace("100", "900");
    let cases = [
        (
            "the body",
            "POST",
            "/v1/payments",
            tampered.clone(),
            signed_for("POST", "/v1/payments", &body),
        ),
        (
            "the path",
            "POST",
            "/v1/payments?x=1",
            body.clone(),
            signed_for("POST", "/v1/payments", &body),
        ),
        (
            "the method",
            "GET",
            "/v1/payments",
            String::new(),
            signed_for("POST", "/v1/payments", ""),
        ),
    ];
    for (what, method, path, bytes, sig) in cases {
        let mut request = TestRequest::post_raw(path, bytes.into_bytes())
            .unsigned()
            .idempotency_key("k");
        request.method = method.into();
        let request = request
            .header("x-client-id", CLIENT)
            .header("lab-signature", &format!("t={now},v1={sig}"));
        assert_unauthenticated(
            &app.send(request).await,
            &format!("a request whose {what} was changed after signing"),
        );
    }
    assert_eq!(app.written().await, (0, 0, 0));
    Ok(())
}

/// An unknown client, or a signature made with a secret the client does not
/// have, is refused.
#[tokio::test]
async fn step5_an_unknown_client_or_a_wrong_secret_is_refused() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let unknown = app
        .send(TestRequest::get("/v1/payments").signed_by("client-nobody", SECRET))
        .await;
    assert_unauthenticated(&unknown, "an unknown client");
    let wrong = app
        .send(TestRequest::get("/v1/payments").signed_by(CLIENT, "not-the-secret"))
        .await;
    assert_unauthenticated(&wrong, "a signature under the wrong secret");
    Ok(())
}

/// During a rotation the client has two active secrets: a request signed with
/// either is accepted, and so is a header carrying one signature per secret. A
/// retired secret is refused.
#[tokio::test]
async fn step5_two_secrets_can_be_active_during_a_rotation() -> anyhow::Result<()> {
    let app = TestApp::with_config(|c| {
        c.clients.insert(
            CLIENT.into(),
            vec!["old-secret".into(), "new-secret".into()],
        );
    })
    .await?;
    let old = app
        .send(TestRequest::get("/v1/payments").signed_by(CLIENT, "old-secret"))
        .await;
    let new = app
        .send(TestRequest::get("/v1/payments").signed_by(CLIENT, "new-secret"))
        .await;
    assert_eq!(
        (old.status, new.status),
        (200, 200),
        "README step 5: either active secret: {} / {}",
        old.text(),
        new.text()
    );

    let now = app.clock_secs();
    let both = format!(
        "t={now},v1={},v1={}",
        signature("retired-secret", now, "GET", "/v1/payments", b""),
        signature("new-secret", now, "GET", "/v1/payments", b"")
    );
    let request = TestRequest::get("/v1/payments")
        .unsigned()
        .header("x-client-id", CLIENT)
        .header("lab-signature", &both);
    assert_eq!(
        app.send(request).await.status,
        200,
        "one matching signature among several is enough"
    );

    let retired = app
        .send(TestRequest::get("/v1/payments").signed_by(CLIENT, "retired-secret"))
        .await;
    assert_unauthenticated(&retired, "a retired secret");
    Ok(())
}

/// A captured request sent again within the window is answered from the
/// idempotency record (one payment); sent after the window, it is refused.
#[tokio::test]
async fn step5_a_captured_request_replayed_is_answered_from_the_record_or_refused_when_stale()
-> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let captured_at = app.clock_secs();
    let body = payment(1_234, "acct_alice", "acct_bob");
    let capture = || {
        TestRequest::post("/v1/payments", &body)
            .idempotency_key("captured")
            .at(captured_at)
    };

    let original = app.send(capture()).await;
    assert_eq!(original.status, 201, "{}", original.text());
    app.clock.advance(std::time::Duration::from_secs(120));
    let replayed = app.send(capture()).await;
    assert_eq!(
        (replayed.status, replayed.header("idempotent-replayed")),
        (201, Some("true")),
        "README step 5: inside the window a replay is answered from the record"
    );
    assert_eq!(app.count("payments").await, 1, "and never executed again");

    app.clock.advance(std::time::Duration::from_secs(300));
    let stale = app.send(capture()).await;
    assert_unauthenticated(&stale, "the same captured request 7 minutes later");
    assert_eq!(
        app.balance("acct_alice").await,
        1_000_000 - 1_234,
        "paid once"
    );
    Ok(())
}
