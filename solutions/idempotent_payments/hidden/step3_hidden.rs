//! Step 3, hidden — the fingerprint: every field of the request, kept apart.

use serde_json::json;

use crate::support::{TestApp, payment};

/// A payment body with every field given.
fn body(source: &str, destination: &str, description: &str) -> serde_json::Value {
    json!({
        "amount": 100,
        "currency": "USD",
        "source": source,
        "destination": destination,
        "description": description,
    })
}

/// The fingerprint keeps fields apart: two requests whose fields differ only
/// in where one ends and the next begins (destination `acct_bob` with
/// description `x`, against `acct_bobx` with none) are different requests, so
/// the second is 422 `idempotency-key-reused`, not the first one replayed.
#[tokio::test]
async fn step3_requests_whose_fields_trade_characters_at_a_boundary_are_different_requests()
-> anyhow::Result<()> {
    let app = TestApp::new().await?;
    for (account, opening) in [
        ("acct_alice", 1_000_000),
        ("acct_bob", 0),
        ("acct_bobx", 0),
        ("acct_alic", 1_000_000),
        ("eacct_bob", 0),
    ] {
        app.account(account, "USD", opening).await?;
    }
    let mut original = payment(100, "acct_alice", "acct_bob");
    original["description"] = json!("x");
    let first = app.pay("boundary", &original).await;
    assert_eq!(first.status, 201, "{}", first.text());

    // Each joins to the same text as the original when the fields are simply
    // concatenated ("…acct_alice" + "acct_bob" + "x").
    for (what, shifted) in [
        (
            "the description's `x` moved to the end of the destination",
            body("acct_alice", "acct_bobx", ""),
        ),
        (
            "the source's last letter moved to the start of the destination",
            body("acct_alic", "eacct_bob", "x"),
        ),
    ] {
        let response = app.pay("boundary", &shifted).await;
        assert_eq!(
            response.status,
            422,
            "README step 3: the request is fingerprinted, every field of it — {what} is another \
             destination (or source) and another description, not a retry: {}",
            response.text()
        );
        assert_eq!(
            response.problem_type(),
            "/problems/idempotency-key-reused",
            "{what}"
        );
        assert_eq!(response.header("idempotent-replayed"), None, "{what}");
    }
    assert_eq!(app.count("payments").await, 1, "one payment, the first");
    assert_eq!(
        (
            app.balance("acct_bob").await,
            app.balance("acct_bobx").await,
            app.balance("eacct_bob").await
        ),
        (100, 0, 0),
        "only the first request's destination was paid"
    );
    Ok(())
}
