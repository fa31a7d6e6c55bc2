//! Step 2 — the double-entry ledger: every payment is a balanced pair of entries
//! written in its own transaction, and no account is ever overdrawn.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{TestApp, pay_in_background, payment};

/// A payment debits its source and credits its destination by its amount, and
/// the balances the API reports follow.
#[tokio::test]
async fn step2_a_payment_debits_the_source_and_credits_the_destination() -> anyhow::Result<()> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 10_000).await?;
    app.account("acct_bob", "USD", 500).await?;
    let created = app
        .pay("k1", &payment(2_500, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().expect("an id").to_string();

    let entries: Vec<(String, i64)> = sqlx::query_as(
        "SELECT account_id, amount FROM ledger_entries WHERE payment_id = $1 ORDER BY amount",
    )
    .bind(&id)
    .fetch_all(app.db.pool())
    .await?;
    assert_eq!(
        entries,
        vec![
            ("acct_alice".to_string(), -2_500),
            ("acct_bob".to_string(), 2_500)
        ],
        "README step 2: one debit of the source, one credit of the destination"
    );
    for (account, expected) in [("acct_alice", 7_500), ("acct_bob", 3_000)] {
        let response = app.get(&format!("/v1/accounts/{account}")).await;
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.json()["balance"], expected, "balance of {account}");
    }
    Ok(())
}

/// A payment the source cannot cover is 422 `insufficient-funds` and writes nothing.
#[tokio::test]
async fn step2_an_overdraft_is_refused_and_writes_nothing() -> anyhow::Result<()> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 1_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    let response = app
        .pay("k1", &payment(1_001, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.problem_type(), "/problems/insufficient-funds");
    assert_eq!(
        app.written().await,
        (0, 0, 0),
        "a refused payment writes nothing, not even its key"
    );
    let exact = app
        .pay("k2", &payment(1_000, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(
        exact.status,
        201,
        "the whole balance may be spent: {}",
        exact.text()
    );
    Ok(())
}

/// A payment in a currency its accounts do not hold is 422 and writes nothing.
#[tokio::test]
async fn step2_a_currency_mismatch_is_refused_and_writes_nothing() -> anyhow::Result<()> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "EUR", 1_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    let mut body = payment(100, "acct_alice", "acct_bob");
    body["currency"] = "EUR".into();
    let response = app.pay("k1", &body).await;
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.problem_type(), "/problems/invalid-request");
    assert_eq!(app.written().await, (0, 0, 0));
    Ok(())
}

/// Twenty payments of 100 from an account holding 1,000, all at once: exactly
/// ten succeed and the balance ends at zero. Checking the balance and writing
/// the debit without a lock lets concurrent payments all see the same balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step2_concurrent_payments_never_overdraw_an_account() -> anyhow::Result<()> {
    let app = Arc::new(TestApp::new().await?);
    app.account("acct_alice", "USD", 1_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let app = app.clone();
        tasks.spawn(async move {
            app.pay(&format!("k{i}"), &payment(100, "acct_alice", "acct_bob"))
                .await
                .status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status?);
    }
    let succeeded = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!(
        (succeeded, refused),
        (10, 10),
        "README step 2: lock the source account; statuses were {statuses:?}"
    );
    assert_eq!(
        app.balance("acct_alice").await,
        0,
        "the account must never go below zero"
    );
    assert_eq!(app.ledger_sum().await, 0);
    Ok(())
}

/// Two payments going opposite ways between the same two accounts, at the same
/// time, both succeed. Locking the source and then the destination deadlocks
/// them — each holds the row the other waits for, and Postgres aborts one — so
/// the two rows are locked in one order whatever the direction.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step2_payments_going_opposite_ways_between_two_accounts_do_not_deadlock()
-> anyhow::Result<()> {
    let app = Arc::new(TestApp::new().await?);
    app.account("acct_alice", "USD", 1_000).await?;
    app.account("acct_bob", "USD", 1_000).await?;
    // Hold alice's row, and queue alice→bob behind it first, then bob→alice:
    // with source-first locking the second holds bob's row while it waits.
    let mut hold = app.db.pool().begin().await?;
    sqlx::query("SELECT 1 FROM accounts WHERE id = 'acct_alice' FOR UPDATE")
        .execute(&mut *hold)
        .await?;
    let mut to_bob = pay_in_background(&app, "to-bob", &payment(100, "acct_alice", "acct_bob"));
    app.until_lock_waiters(1, "alice→bob to wait at alice's row", &mut to_bob)
        .await?;
    let mut to_alice = pay_in_background(&app, "to-alice", &payment(100, "acct_bob", "acct_alice"));
    app.until_lock_waiters(2, "bob→alice to wait at a row too", &mut to_alice)
        .await?;
    hold.commit().await?;

    let to_bob = labkit::within(Duration::from_secs(15), "alice→bob's answer", to_bob).await??;
    let to_alice =
        labkit::within(Duration::from_secs(15), "bob→alice's answer", to_alice).await??;
    assert_eq!(
        (to_bob.status, to_alice.status),
        (201, 201),
        "README step 2: payments going opposite ways must not deadlock (lock both accounts \
         in one order, e.g. by id): {} / {}",
        to_bob.text(),
        to_alice.text()
    );
    assert_eq!(
        (
            app.balance("acct_alice").await,
            app.balance("acct_bob").await
        ),
        (1_000, 1_000),
        "100 each way"
    );
    assert_eq!(app.ledger_sum().await, 0);
    Ok(())
}

/// The entries are written in the payment's own transaction: when writing them
/// fails (here a trigger refuses them), no payment is left behind without them.
#[tokio::test]
async fn step2_entries_are_written_in_the_payments_transaction() -> anyhow::Result<()> {
    let app = TestApp::new().await?;
    app.account("acct_alice", "USD", 10_000).await?;
    app.account("acct_bob", "USD", 0).await?;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_4242() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF abs(NEW.amount) = 4242 THEN RAISE EXCEPTION 'injected failure writing ledger entries'; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_4242 BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION refuse_4242();",
    )
    .execute(app.db.pool())
    .await?;
    let response = app
        .pay("k1", &payment(4_242, "acct_alice", "acct_bob"))
        .await;
    assert_eq!(
        response.status,
        500,
        "a database failure is a 500: {}",
        response.text()
    );
    assert!(
        !response.text().contains("injected failure"),
        "a 500 must not show the client internal details: {}",
        response.text()
    );
    assert_eq!(
        (
            app.count("payments").await,
            app.count("ledger_entries").await
        ),
        (0, 0),
        "README step 2: the payment and its entries commit together or not at all"
    );
    assert!(app.unbalanced_payments().await.is_empty());
    Ok(())
}

proptest::prop_compose! {
    /// (source, destination, amount) over three accounts, including refusals:
    /// same account, overdrafts, zero.
    fn transfer()(source in 0usize..3, destination in 0usize..3, amount in 0i64..1_500) -> (usize, usize, i64) {
        (source, destination, amount)
    }
}

/// Over random sequences of payments — including refused ones — all entries sum
/// to zero and every balance equals its opening amount plus credits minus debits
/// of the payments that succeeded, never below zero.
#[test]
fn step2_over_any_sequence_of_payments_the_ledger_balances() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let app = runtime.block_on(TestApp::new()).expect("a test app");
    // One plain payment first: an unfinished step fails here, once, rather than
    // once per shrink attempt inside the property.
    runtime.block_on(async {
        app.account("acct_smoke_a", "USD", 10)
            .await
            .expect("an account");
        app.account("acct_smoke_b", "USD", 0)
            .await
            .expect("an account");
        let smoke = app
            .pay("smoke", &payment(1, "acct_smoke_a", "acct_smoke_b"))
            .await;
        assert_eq!(
            smoke.status,
            201,
            "a plain payment must succeed first: {}",
            smoke.text()
        );
    });
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    // Each case gets fresh accounts; the counter names them (run() takes an Fn).
    let case = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(&proptest::collection::vec(transfer(), 1..12), |transfers| {
        let case = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let outcome: anyhow::Result<()> = runtime.block_on(async {
            let accounts: Vec<String> = (0..3).map(|i| format!("acct_{case}_{i}")).collect();
            let opening = [1_000i64, 500, 0];
            for (account, amount) in accounts.iter().zip(opening) {
                app.account(account, "USD", amount).await?;
            }
            let mut expected = opening;
            for (n, (from, to, amount)) in transfers.iter().enumerate() {
                let response = app
                    .pay(
                        &format!("case-{case}-{n}"),
                        &payment(*amount, &accounts[*from], &accounts[*to]),
                    )
                    .await;
                let should_pass = from != to && *amount > 0 && *amount <= expected[*from];
                anyhow::ensure!(
                    (response.status == 201) == should_pass,
                    "payment {amount} from {from} to {to} with balances {expected:?} answered {}",
                    response.status
                );
                if should_pass {
                    expected[*from] -= amount;
                    expected[*to] += amount;
                }
            }
            for (account, balance) in accounts.iter().zip(expected) {
                anyhow::ensure!(
                    app.balance(account).await == balance,
                    "balance of {account} should be {balance}"
                );
            }
            anyhow::ensure!(app.ledger_sum().await == 0, "entries must sum to zero");
            anyhow::ensure!(
                app.unbalanced_payments().await.is_empty(),
                "every payment's entries net to zero"
            );
            Ok(())
        });
        outcome.map_err(|e| TestCaseError::fail(format!("{e:#}")))
    });
    if let Err(e) = result {
        panic!("README step 2: {e}");
    }
}
