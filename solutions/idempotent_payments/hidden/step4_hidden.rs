//! Step 4, hidden — the lease lasts as long as configured; a decline is
//! reversed whatever the destination did meanwhile; and a replayed decline is
//! the first answer, content type included.

use std::sync::Arc;
use std::time::Duration;

use crate::support::processor::{Behaviour, FakeProcessor, PATIENT, app_with};
use crate::support::{TestApp, pay_in_background, payment};

/// The app without a processor, with 1,000,000 in acct_alice.
async fn app_without_processor() -> anyhow::Result<Arc<TestApp>> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 1_000_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(Arc::new(app))
}

/// A key stays leased for the whole of `config.lease` (30 s): a duplicate one
/// second before the lease ends, while the first request is still working, gets
/// its 409 at once instead of taking the key over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step4_a_duplicate_a_second_before_the_lease_ends_still_gets_409() -> anyhow::Result<()> {
    let app = app_without_processor().await?;
    let lease = app.state.config.lease;
    assert_eq!(lease, Duration::from_secs(30), "the default lease is 30 s");
    let body = payment(2_000, "acct_alice", "acct_bob");
    // Hold the source's row: the first request stops there, its key claimed.
    let mut hold = app.db.pool().begin().await?;
    sqlx::query("SELECT 1 FROM accounts WHERE id = 'acct_alice' FOR UPDATE")
        .execute(&mut *hold)
        .await?;
    let mut first = pay_in_background(&app, "leased", &body);
    app.until_lock_waiters(
        1,
        "the first request to wait at the source account's row",
        &mut first,
    )
    .await?;

    app.clock.advance(lease - Duration::from_secs(1));
    let duplicate = match labkit::within(
        Duration::from_secs(5),
        "a duplicate's answer 29 s into the first request's lease",
        app.pay("leased", &body),
    )
    .await
    {
        Ok(response) => response,
        Err(e) => anyhow::bail!(
            "README step 4: a key stays leased for config.lease (30 s); 29 s in, a duplicate \
             must get 409 at once, not take the key over and queue at the account's row ({e:#})"
        ),
    };
    duplicate.assert_in_progress(
        "README step 4: 29 s into a 30 s lease the key is still the first request's",
    );

    hold.commit().await?;
    let first =
        labkit::within(Duration::from_secs(15), "the first request's answer", first).await??;
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(app.count("payments").await, 1, "one key, one payment");
    assert_eq!(
        app.balance("acct_alice").await,
        1_000_000 - 2_000,
        "paid once"
    );
    let later = app.pay("leased", &body).await;
    assert_eq!(
        (later.status, later.header("idempotent-replayed")),
        (201, Some("true")),
        "{}",
        later.text()
    );
    Ok(())
}

/// A decline reverses its payment unconditionally: when the destination has
/// already spent what the pending payment credited it, the reversal still
/// happens (402, payment failed, source refunded) and takes the destination
/// below zero — the gap README step 2 accepts — rather than being refused and
/// leaving a declined payment's money moved.
#[tokio::test]
async fn step4_a_decline_is_reversed_even_after_the_destination_spent_the_money()
-> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Fail).await?;
    let app = app_with(&processor, PATIENT).await?;
    app.account("acct_carol", "USD", 0).await?;
    let body = payment(650, "acct_alice", "acct_bob");
    let failed = app.pay("declined-later", &body).await;
    assert_eq!(failed.status, 502, "{}", failed.text());
    assert_eq!(
        app.balance("acct_bob").await,
        650,
        "the pending payment's credit is in place while it waits for a retry"
    );

    processor.set(Behaviour::Charge);
    let spent = app
        .pay("bob-spends", &payment(650, "acct_bob", "acct_carol"))
        .await;
    assert_eq!(
        spent.status,
        201,
        "bob may spend what he holds: {}",
        spent.text()
    );
    assert_eq!(app.balance("acct_bob").await, 0);

    processor.set(Behaviour::Decline);
    let declined = app.pay("declined-later", &body).await;
    assert_eq!(
        declined.status,
        402,
        "README step 2: a declined card reverses the payment by debiting its destination \
         unconditionally, even one that already spent the money: {}",
        declined.text()
    );
    assert_eq!(declined.problem_type(), "/problems/card-declined");
    let status: String =
        sqlx::query_scalar("SELECT status FROM payments WHERE source = 'acct_alice'")
            .fetch_one(app.db.pool())
            .await?;
    assert_eq!(status, "failed");
    assert_eq!(
        (
            app.balance("acct_alice").await,
            app.balance("acct_bob").await,
            app.balance("acct_carol").await
        ),
        (100_000, -650, 650),
        "alice is refunded; bob, who spent the credit, is below zero; carol keeps hers"
    );
    assert_eq!(
        app.count("ledger_entries").await,
        6,
        "two transfers of two entries, and one reversal of two"
    );
    assert_eq!(app.ledger_sum().await, 0);
    assert!(app.unbalanced_payments().await.is_empty());
    let replay = app.pay("declined-later", &body).await;
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (402, Some("true")),
        "{}",
        replay.text()
    );
    Ok(())
}

/// A replayed decline is the first answer: 402 with the same problem+json body,
/// labelled `application/problem+json` like the original.
#[tokio::test]
async fn step4_a_replayed_decline_is_the_same_problem_json_as_the_first_answer()
-> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Decline).await?;
    let app = app_with(&processor, PATIENT).await?;
    let body = payment(650, "acct_alice", "acct_bob");
    let first = app.pay("declined", &body).await;
    assert_eq!(first.status, 402, "{}", first.text());
    assert_eq!(first.problem_type(), "/problems/card-declined");

    let replay = app.pay("declined", &body).await;
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (402, Some("true")),
        "{}",
        replay.text()
    );
    assert_eq!(
        replay.header("content-type"),
        first.header("content-type"),
        "README: every answer after the first is the first answer, replayed — a stored 402 is \
         a problem, and is labelled application/problem+json again"
    );
    assert_eq!(replay.problem_type(), "/problems/card-declined");
    assert_eq!(
        replay.json(),
        first.json(),
        "the replay's body is the first answer's"
    );
    assert_eq!(processor.calls(), 1, "a replay never calls the processor");
    Ok(())
}
