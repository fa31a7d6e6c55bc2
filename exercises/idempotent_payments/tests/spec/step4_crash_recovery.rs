//! Step 4 — retries across a crash: the payment charges a card processor, and a
//! crash at any point, or a processor that fails or times out, still ends in
//! exactly one finished payment and exactly one charge.
//!
//! The service runs as a "process" the test can kill mid-request; the processor
//! is a fake that counts distinct charges and can hang at a chosen moment.

use std::time::Duration;

use idempotent_payments::AppConfig;

use crate::support::processor::{Behaviour, FakeProcessor};
use crate::support::service::ServiceProcess;
use crate::support::{TestApp, payment};

/// The service's processor timeout in the crash tests: long enough that the
/// service is still waiting when the test kills it.
const PATIENT: Duration = Duration::from_secs(30);

async fn app_with(processor: &FakeProcessor, timeout: Duration) -> anyhow::Result<TestApp> {
    let config = processor.config(timeout);
    let app = TestApp::with_config(move |c| c.processor = Some(config)).await?;
    app.account("acct_alice", "USD", 100_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    Ok(app)
}

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
