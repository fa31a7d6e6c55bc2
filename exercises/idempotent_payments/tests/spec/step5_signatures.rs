//! Step 5 — replay attacks: requests are signed (HMAC-SHA256 over the timestamp,
//! method, path, Idempotency-Key and body); anything unsigned, altered, stale or
//! signed with an unknown key is 401; two secrets may be active during a
//! rotation; and a captured request replayed within the window is answered from
//! the idempotency record, never executed again — under a fresh key it is 401.

use crate::support::{
    CLIENT, OTHER_CLIENT, OTHER_SECRET, SECRET, Signed, TestApp, TestRequest, payment, signature,
};

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

/// A `Lab-Signature` header that cannot be read is refused like a missing one:
/// no `t=`, a `t=` that is not a number, no `v1=`, a `v1=` that is not hex, or
/// nothing at all. Nothing is written.
#[tokio::test]
async fn step5_a_malformed_signature_header_is_refused() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let now = app.clock_secs();
    let good = signature(
        SECRET,
        Signed {
            timestamp: now,
            method: "GET",
            path: "/v1/payments",
            key: "",
            body: b"",
        },
    );
    let malformed = [
        format!("v1={good}"),
        format!("t=soon,v1={good}"),
        format!("t={now}"),
        format!("t={now},v1=not-hex"),
        String::new(),
    ];
    for header in &malformed {
        let request = TestRequest::get("/v1/payments")
            .unsigned()
            .header("x-client-id", CLIENT)
            .header("lab-signature", header);
        assert_unauthenticated(
            &app.send(request).await,
            &format!("the header Lab-Signature: {header:?}"),
        );
    }
    assert_eq!(app.written().await, (0, 0, 0));
    Ok(())
}

/// The timestamp must lie within five minutes of the server's clock, either way:
/// exactly 300 s off is still inside, 301 s is not.
#[tokio::test]
async fn step5_a_timestamp_outside_five_minutes_is_refused() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let now = app.clock_secs();
    for (offset, ok) in [
        (-301, false),
        (301, false),
        (-300, true),
        (300, true),
        (-299, true),
        (299, true),
    ] {
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

/// A signature covers the exact method, path, Idempotency-Key and body: change
/// one byte of any and it no longer matches.
#[tokio::test]
async fn step5_changing_any_byte_of_the_request_breaks_the_signature() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let now = app.clock_secs();
    let body = payment(100, "acct_alice", "acct_bob").to_string();
    let signed_for = |method: &str, path: &str, key: &str, bytes: &str| {
        signature(
            SECRET,
            Signed {
                timestamp: now,
                method,
                path,
                key,
                body: bytes.as_bytes(),
            },
        )
    };
    let tampered = body.replace("100", "900");
    // (what changed, method, path, key, body, and a signature of the original)
    let cases = [
        (
            "the body",
            "POST",
            "/v1/payments",
            "k",
            tampered.clone(),
            signed_for("POST", "/v1/payments", "k", &body),
        ),
        (
            "the path",
            "POST",
            "/v1/payments?x=1",
            "k",
            body.clone(),
            signed_for("POST", "/v1/payments", "k", &body),
        ),
        (
            "the method",
            "GET",
            "/v1/payments",
            "k",
            String::new(),
            signed_for("POST", "/v1/payments", "k", ""),
        ),
        (
            "the Idempotency-Key",
            "POST",
            "/v1/payments",
            "k2",
            body.clone(),
            signed_for("POST", "/v1/payments", "k", &body),
        ),
    ];
    for (what, method, path, key, bytes, sig) in cases {
        let mut request = TestRequest::post_raw(path, bytes.into_bytes())
            .unsigned()
            .idempotency_key(key);
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
/// have — another client's secret included — is refused, and writes nothing.
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

    // Only *the client's* secrets count: a secret of another client would let
    // one tenant act as another.
    let body = payment(100, "acct_alice", "acct_bob");
    let cases = [
        (
            "a read naming client-a, signed with client-b's secret",
            TestRequest::get("/v1/payments").signed_by(CLIENT, OTHER_SECRET),
        ),
        (
            "a payment naming client-a, signed with client-b's secret",
            TestRequest::post("/v1/payments", &body)
                .idempotency_key("impersonated")
                .signed_by(CLIENT, OTHER_SECRET),
        ),
        (
            "a payment naming client-b, signed with client-a's secret",
            TestRequest::post("/v1/payments", &body)
                .idempotency_key("impersonated")
                .signed_by(OTHER_CLIENT, SECRET),
        ),
    ];
    for (what, request) in cases {
        assert_unauthenticated(&app.send(request).await, what);
    }
    assert_eq!(
        app.written().await,
        (0, 0, 0),
        "README step 5: nothing is written for a request under another client's secret"
    );
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
    let read = Signed {
        timestamp: now,
        method: "GET",
        path: "/v1/payments",
        key: "",
        body: b"",
    };
    let (valid, stale) = (
        signature("new-secret", read),
        signature("retired-secret", read),
    );
    let garbage = "00".repeat(32);
    // Wherever the matching signature stands among several, it is enough.
    for (place, signatures) in [
        ("last", format!("v1={stale},v1={valid}")),
        ("first", format!("v1={valid},v1={stale}")),
        (
            "in the middle",
            format!("v1={garbage},v1={valid},v1={stale}"),
        ),
    ] {
        let request = TestRequest::get("/v1/payments")
            .unsigned()
            .header("x-client-id", CLIENT)
            .header("lab-signature", &format!("t={now},{signatures}"));
        let response = app.send(request).await;
        assert_eq!(
            response.status,
            200,
            "README step 5: one matching signature among several is enough, wherever it \
             stands (here {place}): {}",
            response.text()
        );
    }

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

/// The attack the signed key stops: a captured signed payment resent within the
/// window under a fresh Idempotency-Key of the attacker's choosing. Its
/// signature does not cover the new key, so it is refused, and the payment runs
/// once.
#[tokio::test]
async fn step5_a_captured_request_resent_under_a_fresh_key_is_refused() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let now = app.clock_secs();
    let body = payment(1_234, "acct_alice", "acct_bob").to_string();
    let captured_signature = signature(
        SECRET,
        Signed {
            timestamp: now,
            method: "POST",
            path: "/v1/payments",
            key: "captured",
            body: body.as_bytes(),
        },
    );
    let resend = |key: &str| {
        TestRequest::post_raw("/v1/payments", body.clone().into_bytes())
            .unsigned()
            .idempotency_key(key)
            .header("x-client-id", CLIENT)
            .header("lab-signature", &format!("t={now},v1={captured_signature}"))
    };

    let original = app.send(resend("captured")).await;
    assert_eq!(
        original.status,
        201,
        "the genuine request: {}",
        original.text()
    );
    app.clock.advance(std::time::Duration::from_secs(60));
    let attack = app.send(resend("attacker-chosen")).await;
    assert_unauthenticated(
        &attack,
        "the captured signature with a fresh Idempotency-Key (the key must be signed)",
    );
    assert_eq!(app.count("payments").await, 1, "the payment ran once");
    assert_eq!(
        app.balance("acct_alice").await,
        1_000_000 - 1_234,
        "paid once"
    );
    Ok(())
}

/// `signing::sign` is what a client library calls: hex HMAC-SHA256 of the
/// signed bytes, equal to the test's own, independent computation.
#[test]
fn step5_sign_computes_the_signature_a_client_sends() {
    let body = br#"{"amount":1}"#;
    let signed = Signed {
        timestamp: 1_700_000_000,
        method: "POST",
        path: "/v1/payments",
        key: "k-1",
        body,
    };
    let payload = idempotent_payments::signing::signed_payload(
        signed.timestamp,
        signed.method,
        signed.path,
        signed.key.as_bytes(),
        signed.body,
    );
    assert_eq!(
        idempotent_payments::signing::sign(SECRET, &payload),
        signature(SECRET, signed),
        "README step 5: v1 = hex(HMAC-SHA256(secret, signed bytes))"
    );
}
