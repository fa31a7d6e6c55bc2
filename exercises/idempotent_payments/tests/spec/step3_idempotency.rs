//! Step 3 — idempotency keys: one key, one payment, however often and however
//! concurrently it is sent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::support::{OTHER_CLIENT, OTHER_SECRET, TestApp, TestRequest, payment};

async fn app_with_accounts() -> anyhow::Result<TestApp> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 1_000_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(app)
}

/// POST without a usable `Idempotency-Key` — missing, empty, over 255 characters
/// — is 400 and writes nothing.
#[tokio::test]
async fn step3_a_missing_empty_or_overlong_key_is_400_and_writes_nothing() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let body = payment(100, "acct_alice", "acct_bob");
    let missing = app.send(TestRequest::post("/v1/payments", &body)).await;
    assert_eq!(
        missing.status,
        400,
        "README step 3: the key is required: {}",
        missing.text()
    );
    assert_eq!(missing.problem_type(), "/problems/invalid-idempotency-key");
    for key in [String::new(), "k".repeat(256)] {
        let response = app.pay(&key, &body).await;
        assert_eq!(
            response.status,
            400,
            "key of {} characters: {}",
            key.len(),
            response.text()
        );
        assert_eq!(response.problem_type(), "/problems/invalid-idempotency-key");
    }
    assert_eq!(app.written().await, (0, 0, 0));
    let longest = app.pay(&"k".repeat(255), &body).await;
    assert_eq!(
        longest.status,
        201,
        "255 characters are allowed: {}",
        longest.text()
    );
    Ok(())
}

/// Sending the same request again with the same key returns the stored status,
/// body and `Location`, marked `Idempotent-Replayed: true`, and writes nothing
/// new.
#[tokio::test]
async fn step3_a_retry_replays_the_stored_response_and_writes_nothing() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let body = payment(700, "acct_alice", "acct_bob");
    let first = app.pay("retry-me", &body).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let location = format!(
        "/v1/payments/{}",
        first.json()["id"].as_str().expect("an id")
    );
    let written = app.written().await;
    for _ in 0..3 {
        let again = app.pay("retry-me", &body).await;
        assert_eq!(again.status, 201);
        assert_eq!(
            again.json(),
            first.json(),
            "a replay returns the original body, same payment id"
        );
        assert_eq!(
            again.header("location"),
            Some(location.as_str()),
            "README: every answer after the first is the first answer replayed — its \
             Location header too"
        );
        assert_eq!(
            again.header("idempotent-replayed"),
            Some("true"),
            "README step 3: mark replays"
        );
    }
    assert_eq!(
        app.written().await,
        written,
        "replays must not write anything"
    );
    assert_eq!(
        app.balance("acct_alice").await,
        1_000_000 - 700,
        "paid once"
    );
    Ok(())
}

/// The same key with a different request is 422 — never the old response —
/// whichever field differs: the fingerprint covers the whole request.
#[tokio::test]
async fn step3_the_same_key_with_a_different_request_is_422() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    app.account("acct_carol", "USD", 1_000).await?;
    let original = payment(100, "acct_alice", "acct_bob");
    assert_eq!(app.pay("k", &original).await.status, 201);
    let changed = |field: &str, value: serde_json::Value| {
        let mut body = original.clone();
        body[field] = value;
        body
    };
    for (what, body) in [
        ("amount", changed("amount", json!(999))),
        ("description", changed("description", json!("another note"))),
        ("currency", changed("currency", json!("EUR"))),
        ("source", changed("source", json!("acct_carol"))),
        ("destination", changed("destination", json!("acct_carol"))),
    ] {
        let different = app.pay("k", &body).await;
        assert_eq!(
            different.status,
            422,
            "README step 3: the same key with a different {what} is a different request, \
             refused — not the old payment replayed: {}",
            different.text()
        );
        assert_eq!(
            different.problem_type(),
            "/problems/idempotency-key-reused",
            "a different {what}"
        );
    }
    assert_eq!(app.count("payments").await, 1);
    Ok(())
}

/// Keys belong to a client: two clients may use the same key for two payments.
#[tokio::test]
async fn step3_keys_are_scoped_per_client() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let body = payment(100, "acct_alice", "acct_bob");
    let mine = app.pay("shared-key", &body).await;
    let theirs = app
        .send(
            TestRequest::post("/v1/payments", &body)
                .idempotency_key("shared-key")
                .signed_by(OTHER_CLIENT, OTHER_SECRET),
        )
        .await;
    assert_eq!(
        (mine.status, theirs.status),
        (201, 201),
        "{}",
        theirs.text()
    );
    assert_ne!(
        mine.json()["id"],
        theirs.json()["id"],
        "two clients, two payments"
    );
    assert_eq!(theirs.header("idempotent-replayed"), None);
    Ok(())
}

/// While the first request with a key is still working, a duplicate gets 409
/// with `Retry-After` at once (it does not wait in line); once the first
/// finishes, a duplicate gets its stored answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step3_a_duplicate_while_the_first_is_in_flight_gets_409_with_retry_after()
-> anyhow::Result<()> {
    let app = Arc::new(app_with_accounts().await?);
    let body = payment(100, "acct_alice", "acct_bob");
    // Hold the source account's row: the first request stops where it writes
    // the payment (every design must touch that row there, if only for the
    // foreign key), after claiming its key.
    let mut blocker = app.db.pool().begin().await?;
    sqlx::query("SELECT 1 FROM accounts WHERE id = 'acct_alice' FOR UPDATE")
        .execute(&mut *blocker)
        .await?;

    let mut first = tokio::spawn({
        let (app, body) = (app.clone(), body.clone());
        async move { app.pay("in-flight", &body).await }
    });
    let held = labkit::eventually(
        Duration::from_secs(10),
        "the first request to wait on the account's row lock",
        || async {
            let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(app.db.pool())
        .await?;
            Ok(waiting > 0)
        },
    );
    tokio::select! {
        waited = held => waited?,
        ended = &mut first => {
            let how = match ended {
                Ok(response) => format!("answered {} {}", response.status, response.text()),
                Err(e) => format!("panicked: {e}"),
            };
            anyhow::bail!("README step 3: the first request {how} instead of waiting at the account it pays from");
        }
    }

    let duplicate = labkit::within(
        Duration::from_secs(5),
        "a duplicate's answer while the first is in flight",
        app.pay("in-flight", &body),
    )
    .await?;
    duplicate.assert_in_progress("README step 3: an in-flight key answers 409 at once");

    blocker.commit().await?;
    let first = labkit::within(Duration::from_secs(10), "the first request", first).await??;
    assert_eq!(first.status, 201, "{}", first.text());
    let later = app.pay("in-flight", &body).await;
    assert_eq!(
        (later.status, later.header("idempotent-replayed")),
        (201, Some("true"))
    );
    assert_eq!(app.count("payments").await, 1);
    Ok(())
}

/// Twenty identical requests at the same moment make exactly one payment and
/// one idempotency record; each answer is the payment (first or replayed) or a
/// 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step3_twenty_concurrent_identical_requests_make_one_payment() -> anyhow::Result<()> {
    for round in 0..3 {
        let app = Arc::new(app_with_accounts().await?);
        let body = payment(250, "acct_alice", "acct_bob");
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (app, body, barrier) = (app.clone(), body.clone(), barrier.clone());
            tasks.spawn(async move {
                barrier.wait().await;
                app.pay("same-key", &body).await.status
            });
        }
        let mut statuses = Vec::new();
        while let Some(status) = tasks.join_next().await {
            statuses.push(status?);
        }
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 409),
            "round {round}: {statuses:?}"
        );
        assert_eq!(
            app.count("payments").await,
            1,
            "round {round}: README step 3: one key, one payment, even all at once (statuses {statuses:?})"
        );
        assert_eq!(app.balance("acct_alice").await, 1_000_000 - 250);
        assert_eq!(
            app.count("idempotency_keys").await,
            1,
            "round {round}: README step 3: one key, one record — two requests that both \
             found no record and both inserted one race each other from then on"
        );
    }
    Ok(())
}

/// A request refused by validation stores nothing, so the corrected request may
/// use the same key (it is a new request, not a reuse).
#[tokio::test]
async fn step3_a_refused_request_leaves_its_key_free_for_the_corrected_one() -> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let overdraft = app
        .pay("fix-me", &payment(5_000_000, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(overdraft.status, 422, "{}", overdraft.text());
    let unknown = app
        .pay("fix-me", &payment(100, "acct_alice", "acct_nobody"))
        .await;
    assert_eq!(
        unknown.status,
        404,
        "still refused, not 'key reused': {}",
        unknown.text()
    );
    let mut in_euros = payment(100, "acct_alice", "acct_bob");
    in_euros["currency"] = "EUR".into();
    let mismatch = app.pay("fix-me", &in_euros).await;
    assert_eq!(
        (mismatch.status, mismatch.problem_type().as_str()),
        (422, "/problems/invalid-request"),
        "README bad input: a currency that differs from the accounts' is refused, and frees the \
         key: {}",
        mismatch.text()
    );
    let corrected = app
        .pay("fix-me", &payment(100, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(
        corrected.status,
        201,
        "README step 3: a refused request stores nothing: {}",
        corrected.text()
    );
    assert_eq!(corrected.header("idempotent-replayed"), None);
    Ok(())
}

/// Keys are kept 24 hours: until then a retry replays; after that the reaper
/// deletes them, and the same key is a new request.
#[tokio::test]
async fn step3_keys_expire_after_the_retention_period_and_the_reaper_removes_them()
-> anyhow::Result<()> {
    let app = app_with_accounts().await?;
    let body = payment(100, "acct_alice", "acct_bob");
    let first = app.pay("daily", &body).await.json();
    let retention = app.state.config.key_retention;
    assert_eq!(
        retention,
        Duration::from_secs(24 * 3600),
        "the default retention is 24 h"
    );

    app.clock.advance(retention - Duration::from_secs(1));
    let now = idempotent_payments::Clock::now_ms(&app.clock);
    let reaped = idempotent_payments::idempotency::reap(app.db.pool(), now, retention).await?;
    assert_eq!(reaped, 0, "a key 1 s short of 24 h old is kept");
    let replay = app.pay("daily", &body).await;
    assert_eq!(
        (replay.header("idempotent-replayed"), replay.json()),
        (Some("true"), first.clone())
    );

    app.clock.advance(Duration::from_secs(2));
    let now = idempotent_payments::Clock::now_ms(&app.clock);
    let reaped = idempotent_payments::idempotency::reap(app.db.pool(), now, retention).await?;
    assert_eq!(
        reaped, 1,
        "README step 3: the reaper removes keys older than the retention period"
    );
    assert_eq!(app.count("idempotency_keys").await, 0);
    let fresh = app.pay("daily", &body).await;
    assert_eq!(fresh.status, 201);
    assert_eq!(
        fresh.header("idempotent-replayed"),
        None,
        "after expiry the key is new again"
    );
    assert_ne!(fresh.json()["id"], first["id"], "and makes a new payment");
    Ok(())
}
