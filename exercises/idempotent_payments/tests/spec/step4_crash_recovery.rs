//! Step 4 — retries across a crash: the payment charges a card processor, and a
//! crash at any point, a processor that fails, times out or says "not now", a
//! failure between a step's work and its recovery point, or a request that was
//! only slow and outlived its lease, still ends in exactly one finished payment
//! and exactly one charge.
//!
//! The service runs as a "process" the test can kill mid-request; the processor
//! is a fake that counts distinct charges and can hang at a chosen moment.

use std::sync::Arc;
use std::time::Duration;

use idempotent_payments::AppConfig;
use serde_json::Value;

use crate::support::processor::{Behaviour, FakeProcessor, PATIENT, app_with};
use crate::support::service::ServiceProcess;
use crate::support::{TestApp, TestResponse, pay_in_background, payment};

fn config_of(app: &TestApp) -> AppConfig {
    (*app.state.config).clone()
}

/// Everything "exactly once" means, checked from the tables and the processor.
async fn assert_paid_exactly_once(
    app: &TestApp,
    processor: &FakeProcessor,
    amount: i64,
) -> anyhow::Result<()> {
    assert_eq!(
        processor.charges(),
        1,
        "README step 4: the card must be charged exactly once"
    );
    assert_eq!(app.count("payments").await, 1, "exactly one payment");
    let status: String = sqlx::query_scalar("SELECT status FROM payments")
        .fetch_one(app.db.pool())
        .await?;
    assert_eq!(status, "succeeded");
    assert_eq!(
        app.balance("acct_alice").await,
        100_000 - amount,
        "the money moved once"
    );
    assert!(app.unbalanced_payments().await.is_empty());
    let keys: Vec<Option<String>> = processor.keys_seen();
    assert!(
        keys.iter().all(|k| k.is_some() && *k == keys[0]),
        "every call for one payment carries the same Idempotency-Key to the processor: {keys:?}"
    );
    Ok(())
}

type InFlight = tokio::task::JoinHandle<anyhow::Result<labkit::http::HttpResponse>>;

/// Send a payment to the service in the background (the test will crash the
/// service under it).
fn send_in_background(service: &ServiceProcess, app: &TestApp) -> InFlight {
    tokio::spawn(service.pay(
        "crash-key",
        &payment(3_000, "acct_alice", "acct_bob"),
        app.clock_secs(),
    ))
}

/// Wait until the processor holds the charge call — or fail at once if the
/// payment request ended before ever reaching it.
async fn until_the_processor_holds_it(
    processor: &FakeProcessor,
    request: &mut InFlight,
) -> anyhow::Result<()> {
    tokio::select! {
        waited = processor.wait_until_hanging() => waited,
        ended = request => {
            let how = match ended {
                Ok(Ok(response)) => format!("answered {} {}", response.status, response.text()),
                Ok(Err(e)) => format!("failed: {e:#}"),
                Err(e) => format!("panicked: {e}"),
            };
            anyhow::bail!("README step 4: the payment request {how} before it reached the card processor")
        }
    }
}

/// A payment charges the processor once, passing an `Idempotency-Key`.
#[tokio::test]
async fn step4_a_payment_charges_the_processor_once_with_an_idempotency_key() -> anyhow::Result<()>
{
    let processor = FakeProcessor::start(Behaviour::Charge).await?;
    let app = app_with(&processor, PATIENT).await?;
    let response = app
        .pay("k1", &payment(1_200, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(processor.calls(), 1);
    assert_paid_exactly_once(&app, &processor, 1_200).await?;
    let replay = app
        .pay("k1", &payment(1_200, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(processor.calls(), 1, "a replay never calls the processor");
    Ok(())
}

/// Crash, then retry: the retry is told to wait while the crashed request's
/// lease runs (409), and resumes once it has run out.
async fn crash_and_resume(
    app: &TestApp,
    processor: &FakeProcessor,
    service: ServiceProcess,
) -> anyhow::Result<()> {
    let body = payment(3_000, "acct_alice", "acct_bob");
    service.kill();
    processor.set(Behaviour::Charge);
    processor.release();

    let restarted = ServiceProcess::start(app.db.url(), app.clock.clone(), config_of(app))?;
    let early = restarted.pay("crash-key", &body, app.clock_secs()).await?;
    assert_eq!(
        early.status,
        409,
        "the crashed request still holds its lease: {}",
        early.text()
    );
    app.clock
        .advance(app.state.config.lease + Duration::from_secs(1));
    let resumed = restarted.pay("crash-key", &body, app.clock_secs()).await?;
    assert_eq!(
        resumed.status,
        201,
        "README step 4: after the lease, a retry finishes the payment: {}",
        resumed.text()
    );
    assert_paid_exactly_once(app, processor, 3_000).await?;
    let replay = restarted.pay("crash-key", &body, app.clock_secs()).await?;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    Ok(())
}

/// A crash while the service waits for the processor, before any charge exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_crash_before_the_charge_is_retried_to_exactly_one_charge() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::HangBeforeCharging).await?;
    let app = app_with(&processor, PATIENT).await?;
    let service = ServiceProcess::start(app.db.url(), app.clock.clone(), config_of(&app))?;
    let mut request = send_in_background(&service, &app);
    until_the_processor_holds_it(&processor, &mut request).await?;
    assert_eq!(processor.charges(), 0);
    let result = crash_and_resume(&app, &processor, service).await;
    request.abort();
    result
}

/// A crash after the processor charged but before the service heard back: the
/// retry must not charge again. Calling the processor without an idempotency
/// key makes this a double charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_crash_after_the_processor_charged_never_charges_twice() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::HangAfterCharging).await?;
    let app = app_with(&processor, PATIENT).await?;
    let service = ServiceProcess::start(app.db.url(), app.clock.clone(), config_of(&app))?;
    let mut request = send_in_background(&service, &app);
    until_the_processor_holds_it(&processor, &mut request).await?;
    assert_eq!(
        processor.charges(),
        1,
        "the charge exists; the service has not heard of it"
    );
    let result = crash_and_resume(&app, &processor, service).await;
    request.abort();
    result
}

/// A crash after the charge came back, while the service records it and
/// finishes (it is held at the payment's row): the retry finishes without
/// charging again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step4_a_crash_while_finishing_completes_without_charging_again() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::HangAfterCharging).await?;
    let app = app_with(&processor, PATIENT).await?;
    let service = ServiceProcess::start(app.db.url(), app.clock.clone(), config_of(&app))?;
    let mut request = send_in_background(&service, &app);
    until_the_processor_holds_it(&processor, &mut request).await?;

    // Hold the payment's row, then let the processor answer: whatever the
    // service writes next about the charge waits on this lock.
    let mut blocker = app.db.pool().begin().await?;
    sqlx::query("SELECT 1 FROM payments FOR UPDATE")
        .execute(&mut *blocker)
        .await?;
    processor.release();
    let waited = labkit::eventually(Duration::from_secs(5), "the service to wait on the payment's row", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(app.db.pool())
        .await?;
        Ok(waiting > 0)
    })
    .await;
    service.kill();
    blocker.commit().await?;
    request.abort();
    if let Err(e) = waited {
        // A design that records the charge without touching the payment's row
        // was not held; it may have finished. The end state must be right anyway.
        eprintln!(
            "note: the service was not held at the payment row ({e:#}); checking the end state only"
        );
    }

    let body = payment(3_000, "acct_alice", "acct_bob");
    let restarted = ServiceProcess::start(app.db.url(), app.clock.clone(), config_of(&app))?;
    app.clock
        .advance(app.state.config.lease + Duration::from_secs(1));
    let resumed = restarted.pay("crash-key", &body, app.clock_secs()).await?;
    assert_eq!(resumed.status, 201, "README step 4: {}", resumed.text());
    assert_paid_exactly_once(&app, &processor, 3_000).await
}

/// A processor that takes longer than the service's timeout: the client gets
/// 504 at once, the payment stays resumable, and the next retry finishes it
/// with the charge the processor did make — not a second one.
#[tokio::test]
async fn step4_a_processor_timeout_leaves_a_state_the_next_retry_resolves() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::HangAfterCharging).await?;
    let app = app_with(&processor, Duration::from_millis(300)).await?;
    let body = payment(900, "acct_alice", "acct_bob");
    let timed_out = app.pay("slow", &body).await;
    assert_eq!(
        timed_out.status,
        504,
        "README step 4: a processor timeout is 504: {}",
        timed_out.text()
    );
    assert_eq!(timed_out.problem_type(), "/problems/processor-timeout");
    assert_eq!(
        processor.charges(),
        1,
        "the processor did charge; the service does not know yet"
    );

    processor.set(Behaviour::Charge);
    processor.release();
    let retried = app.pay("slow", &body).await;
    assert_eq!(
        retried.status,
        201,
        "a retry right away resumes (the lease was given back): {}",
        retried.text()
    );
    assert_eq!(processor.calls(), 2);
    assert_paid_exactly_once(&app, &processor, 900).await
}

/// A processor failure (500) is a 502 the client may retry with the same key.
#[tokio::test]
async fn step4_a_processor_failure_is_retried_with_the_same_key() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Fail).await?;
    let app = app_with(&processor, PATIENT).await?;
    let body = payment(400, "acct_alice", "acct_bob");
    let failed = app.pay("flaky", &body).await;
    assert_eq!(failed.status, 502, "{}", failed.text());
    assert_eq!(failed.problem_type(), "/problems/processor-unavailable");
    processor.set(Behaviour::Charge);
    let retried = app.pay("flaky", &body).await;
    assert_eq!(retried.status, 201, "{}", retried.text());
    assert_paid_exactly_once(&app, &processor, 400).await
}

/// A declined card fails the payment with 402: the money movement is reversed by
/// new entries (never deleted), and a retry replays the 402.
#[tokio::test]
async fn step4_a_declined_card_fails_the_payment_and_reverses_its_movement() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Decline).await?;
    let app = app_with(&processor, PATIENT).await?;
    let body = payment(650, "acct_alice", "acct_bob");
    let declined = app.pay("declined", &body).await;
    assert_eq!(declined.status, 402, "{}", declined.text());
    assert_eq!(declined.problem_type(), "/problems/card-declined");
    let status: String = sqlx::query_scalar("SELECT status FROM payments")
        .fetch_one(app.db.pool())
        .await?;
    assert_eq!(status, "failed");
    assert_eq!(
        (
            app.balance("acct_alice").await,
            app.balance("acct_bob").await
        ),
        (100_000, 0),
        "the movement is undone"
    );
    assert_eq!(
        app.count("ledger_entries").await,
        4,
        "two transfer entries and two reversal entries"
    );
    assert_eq!(app.ledger_sum().await, 0);
    let replay = app.pay("declined", &body).await;
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (402, Some("true"))
    );
    assert_eq!(processor.calls(), 1, "a decline is final: not retried");
    Ok(())
}

/// Only a 402 is a decline. A processor answering 409 (a charge with this key
/// is still in progress) or 429 (rate limited) has not said no: the client
/// gets 502, the payment stays pending and unreversed, and a retry finishes it.
#[tokio::test]
async fn step4_a_busy_or_rate_limited_processor_is_retried_not_taken_as_a_decline()
-> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Charge).await?;
    let app = app_with(&processor, PATIENT).await?;
    let body = payment(800, "acct_alice", "acct_bob");
    for answered in [409, 429] {
        processor.set(Behaviour::Refuse(answered));
        let response = app.pay("busy", &body).await;
        assert_eq!(
            response.status,
            502,
            "README bad input: a processor answering {answered} has not declined: 502, retry \
             with the same key — not a final 402: {}",
            response.text()
        );
        assert_eq!(response.problem_type(), "/problems/processor-unavailable");
        let status: String = sqlx::query_scalar("SELECT status FROM payments")
            .fetch_one(app.db.pool())
            .await?;
        assert_eq!(
            (status.as_str(), app.count("ledger_entries").await),
            ("pending", 2),
            "after a processor {answered} the payment waits for the retry, its movement in place"
        );
    }
    processor.set(Behaviour::Charge);
    let retried = app.pay("busy", &body).await;
    assert_eq!(retried.status, 201, "{}", retried.text());
    assert_eq!(processor.calls(), 3);
    assert_paid_exactly_once(&app, &processor, 800).await
}

/// The reaper deletes finished keys only. A key left unfinished — here at
/// payment_created, after a processor failure — names its payment (and might
/// hold a charge nobody recorded): a day later it is still there, and a late
/// retry finishes that payment instead of making a second.
#[tokio::test]
async fn step4_the_reaper_keeps_an_unfinished_key_so_a_late_retry_still_pays_once()
-> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Fail).await?;
    let app = app_with(&processor, PATIENT).await?;
    let body = payment(700, "acct_alice", "acct_bob");
    let failed = app.pay("unfinished", &body).await;
    assert_eq!(failed.status, 502, "{}", failed.text());
    let payment_id: String = sqlx::query_scalar("SELECT id FROM payments")
        .fetch_one(app.db.pool())
        .await?;

    let retention = app.state.config.key_retention;
    app.clock.advance(retention + Duration::from_secs(1));
    let now = idempotent_payments::Clock::now_ms(&app.clock);
    let reaped = idempotent_payments::idempotency::reap(app.db.pool(), now, retention).await?;
    assert_eq!(
        (reaped, app.count("idempotency_keys").await),
        (0, 1),
        "README step 3: only finished keys are reaped; this one is at payment_created, \
         24 h + 1 s old, and must be kept"
    );

    processor.set(Behaviour::Charge);
    let late = app.pay("unfinished", &body).await;
    assert_eq!(
        late.status,
        201,
        "a retry a day later resumes: {}",
        late.text()
    );
    assert_eq!(
        late.json()["id"],
        payment_id.as_str(),
        "README step 4: the late retry finishes the payment it started, not a new one"
    );
    assert_paid_exactly_once(&app, &processor, 700).await
}

/// The app without a processor (a payment finishes without a charge), and
/// 1,000,000 in acct_alice: for the tests of requests that outlive their lease.
async fn app_without_processor() -> anyhow::Result<Arc<TestApp>> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 1_000_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(Arc::new(app))
}

/// The test's hold on acct_alice's row: a payment from alice stops there.
type RowHold = sqlx::Transaction<'static, sqlx::Postgres>;

/// Start the first request for `key` and stop it at acct_alice's row (the test
/// holds the row), then move the clock past its lease: the request is not dead,
/// only slow, but a retry may now take its key over.
async fn a_first_request_outliving_its_lease(
    app: &Arc<TestApp>,
    key: &str,
    body: &Value,
) -> anyhow::Result<(RowHold, tokio::task::JoinHandle<TestResponse>)> {
    let mut hold = app.db.pool().begin().await?;
    sqlx::query("SELECT 1 FROM accounts WHERE id = 'acct_alice' FOR UPDATE")
        .execute(&mut *hold)
        .await?;
    let mut first = pay_in_background(app, key, body);
    app.until_lock_waiters(
        1,
        "the first request to wait at the source account's row",
        &mut first,
    )
    .await?;
    app.clock
        .advance(app.state.config.lease + Duration::from_secs(1));
    Ok((hold, first))
}

/// Whatever the interleaving of a slow request and the retries that overtook
/// it: each answered the payment (201) or 409, one payment moved the money
/// once, and a later retry replays it.
async fn assert_one_payment(
    app: &TestApp,
    key: &str,
    body: &Value,
    answers: &[&TestResponse],
) -> anyhow::Result<()> {
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let texts: Vec<String> = answers.iter().map(|a| a.text()).collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "README step 4: each request answers the payment (201) or 409 (the key is in other \
         hands); got {statuses:?}: {texts:?}"
    );
    assert_eq!(
        app.count("payments").await,
        1,
        "README: exactly once per key — a slow request and a retry that took its key over \
         must not both pay (answers {statuses:?}: {texts:?})"
    );
    let payment_id: String = sqlx::query_scalar("SELECT id FROM payments")
        .fetch_one(app.db.pool())
        .await?;
    assert!(
        statuses.contains(&201),
        "one of them finished the payment: {statuses:?}: {texts:?}"
    );
    for answer in answers.iter().filter(|a| a.status == 409) {
        assert!(
            answer.header("retry-after").is_some(),
            "README bad input: a 409 for a key in other hands says when to ask again (Retry-After)"
        );
    }
    for answer in answers.iter().filter(|a| a.status == 201) {
        assert_eq!(
            answer.json()["id"],
            payment_id.as_str(),
            "every 201 is the one payment"
        );
    }
    assert_eq!(
        app.balance("acct_alice").await,
        1_000_000 - body["amount"].as_i64().expect("an amount"),
        "the money moved once"
    );
    assert_eq!(
        app.count("ledger_entries").await,
        2,
        "one debit and one credit: the duplicate's work was rolled back"
    );
    assert!(app.unbalanced_payments().await.is_empty());
    let later = app.pay(key, body).await;
    assert_eq!(
        (later.status, later.header("idempotent-replayed")),
        (201, Some("true")),
        "a later retry replays the answer: {}",
        later.text()
    );
    assert_eq!(later.json()["id"], payment_id.as_str());
    Ok(())
}

/// A request that is slow, not dead — stuck 31 s at a row lock — outlives its
/// lease; a retry takes the key over and starts the same step. When both get
/// the row, only one may record the work: progress is a compare-and-set on
/// the recovery point, and the one that finds it moved on rolls back (409).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step4_a_slow_request_overtaken_by_a_retry_after_its_lease_still_pays_once()
-> anyhow::Result<()> {
    let app = app_without_processor().await?;
    let body = payment(2_000, "acct_alice", "acct_bob");
    let (hold, first) = a_first_request_outliving_its_lease(&app, "overrun", &body).await?;
    let mut retry = pay_in_background(&app, "overrun", &body);
    app.until_lock_waiters(
        2,
        "README step 4: the retry to take the key over once the lease has run out, and wait \
         at the same row",
        &mut retry,
    )
    .await?;
    hold.commit().await?;
    let first =
        labkit::within(Duration::from_secs(15), "the first request's answer", first).await??;
    let retry = labkit::within(Duration::from_secs(15), "the retry's answer", retry).await??;
    assert_one_payment(&app, "overrun", &body, &[&first, &retry]).await
}

/// Two retries arrive together after a slow request's lease ran out: exactly
/// one takes the key over, and the other — a duplicate of a request in flight
/// — gets its 409 at once instead of queueing behind the first one's locks.
/// Taking over without locking the key's row lets both take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step4_two_retries_after_a_lease_runs_out_one_takes_over_and_the_other_gets_409_at_once()
-> anyhow::Result<()> {
    let app = app_without_processor().await?;
    let body = payment(2_000, "acct_alice", "acct_bob");
    let (hold, first) = a_first_request_outliving_its_lease(&app, "overrun", &body).await?;
    // Hold the key's row as well, so that both retries are in before either
    // decides: they must then decide one after the other.
    let mut key_hold = app.db.pool().begin().await?;
    sqlx::query("SELECT 1 FROM idempotency_keys WHERE key = 'overrun' FOR UPDATE")
        .execute(&mut *key_hold)
        .await?;
    let mut second = pay_in_background(&app, "overrun", &body);
    let third = pay_in_background(&app, "overrun", &body);
    app.until_lock_waiters(3, "both retries to wait at the key's row", &mut second)
        .await?;
    key_hold.commit().await?;

    labkit::eventually(
        Duration::from_secs(10),
        "README step 3: one of the two retries to be answered 409 at once (both took the key \
         over and queue at the account's row)",
        || async { Ok(second.is_finished() || third.is_finished()) },
    )
    .await?;
    let (loser, winner) = if second.is_finished() {
        (second, third)
    } else {
        (third, second)
    };
    let loser = labkit::within(Duration::from_secs(5), "the retry that lost", loser).await??;
    loser.assert_in_progress(
        "README step 3: a duplicate while another request holds the key gets 409",
    );

    hold.commit().await?;
    let first =
        labkit::within(Duration::from_secs(15), "the first request's answer", first).await??;
    let winner = labkit::within(Duration::from_secs(15), "the retry's answer", winner).await??;
    assert_one_payment(&app, "overrun", &body, &[&first, &winner, &loser]).await
}

/// Each recovery point commits with the work it records: when recording
/// payment_created fails (a trigger refuses it here), the payment and its
/// entries roll back with it, and the retry makes the one payment.
#[tokio::test]
async fn step4_a_failure_recording_payment_created_rolls_the_payment_back_with_it()
-> anyhow::Result<()> {
    let app = app_without_processor().await?;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_payment_created() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'injected failure recording payment_created'; END $$;
         CREATE TRIGGER refuse_payment_created BEFORE UPDATE ON idempotency_keys FOR EACH ROW
         WHEN (NEW.recovery_point = 'payment_created') EXECUTE FUNCTION refuse_payment_created();",
    )
    .execute(app.db.pool())
    .await?;
    let body = payment(1_500, "acct_alice", "acct_bob");
    let failed = app.pay("record-me", &body).await;
    assert_eq!(
        failed.status,
        500,
        "a database failure is a 500: {}",
        failed.text()
    );
    assert_eq!(
        (
            app.count("payments").await,
            app.count("ledger_entries").await
        ),
        (0, 0),
        "README step 4: the payment commits with its recovery point or not at all; \
         recording the point failed, so no payment may remain for the retry to repeat"
    );

    sqlx::query("DROP TRIGGER refuse_payment_created ON idempotency_keys")
        .execute(app.db.pool())
        .await?;
    let retried = app.pay("record-me", &body).await;
    assert_eq!(retried.status, 201, "{}", retried.text());
    assert_eq!(
        app.count("payments").await,
        1,
        "the retry makes the one payment"
    );
    assert_eq!(
        app.balance("acct_alice").await,
        1_000_000 - 1_500,
        "paid once"
    );
    Ok(())
}

/// A decline's reversal and its stored 402 commit together: when storing the
/// 402 fails (a trigger refuses it here), the reversal rolls back with it, and
/// the retry reverses the payment once — not twice.
#[tokio::test]
async fn step4_a_failure_storing_a_decline_rolls_its_reversal_back_with_it() -> anyhow::Result<()> {
    let processor = FakeProcessor::start(Behaviour::Decline).await?;
    let app = app_with(&processor, PATIENT).await?;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_declines() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'injected failure storing a decline'; END $$;
         CREATE TRIGGER refuse_declines BEFORE UPDATE ON idempotency_keys FOR EACH ROW
         WHEN (NEW.response_status = 402) EXECUTE FUNCTION refuse_declines();",
    )
    .execute(app.db.pool())
    .await?;
    let body = payment(650, "acct_alice", "acct_bob");
    let failed = app.pay("declined", &body).await;
    assert_eq!(
        failed.status,
        500,
        "a database failure is a 500: {}",
        failed.text()
    );
    let status: String = sqlx::query_scalar("SELECT status FROM payments")
        .fetch_one(app.db.pool())
        .await?;
    assert_eq!(
        (status.as_str(), app.count("ledger_entries").await),
        ("pending", 2),
        "README step 4: the reversal commits with the stored 402 or not at all; storing it \
         failed, so the payment is still pending with only its two transfer entries"
    );

    sqlx::query("DROP TRIGGER refuse_declines ON idempotency_keys")
        .execute(app.db.pool())
        .await?;
    let declined = app.pay("declined", &body).await;
    assert_eq!(declined.status, 402, "{}", declined.text());
    assert_eq!(
        (
            app.balance("acct_alice").await,
            app.balance("acct_bob").await
        ),
        (100_000, 0),
        "reversed exactly once"
    );
    assert_eq!(
        app.count("ledger_entries").await,
        4,
        "two transfer entries and two reversal entries"
    );
    assert_eq!(app.ledger_sum().await, 0);
    Ok(())
}
