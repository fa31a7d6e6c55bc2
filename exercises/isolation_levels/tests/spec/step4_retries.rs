//! Step 4: retrying serializable transactions, and keeping side effects out.

use std::sync::Arc;
use std::time::Duration;

use isolation_levels::orders::{self, Line, Mailer, NewOrder};
use isolation_levels::{
    Gate, OrderError, RetryError, RetryPolicy, is_retryable, place_order, run_serializable,
};
use sqlx::PgConnection;

use crate::support::{self, BOUND};

/// A policy that retries fast, so the tests spend their time in the database.
pub fn quick(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    }
}

/// The error `sql` raises on Postgres.
async fn error_of(pool: &sqlx::PgPool, sql: &'static str) -> sqlx::Error {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .expect_err("the statement is written to fail")
}

/// Serialization failures and deadlocks are retryable; a unique violation, a
/// syntax error, another class-40 error and a pool error are not.
#[tokio::test]
async fn step4_only_serialization_failures_and_deadlocks_are_retryable() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    sqlx::raw_sql("CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1)")
        .execute(pool)
        .await?;
    let cases: [(&str, &'static str, bool); 6] = [
        (
            "40001 serialization_failure",
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40001'; END $$",
            true,
        ),
        (
            "40P01 deadlock_detected",
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$",
            true,
        ),
        (
            "40002 integrity constraint violation",
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40002'; END $$",
            false,
        ),
        ("23505 unique_violation", "INSERT INTO u VALUES (1)", false),
        ("42601 syntax_error", "SELEC 1", false),
        (
            "55P03 lock_not_available",
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '55P03'; END $$",
            false,
        ),
    ];
    for (what, sql, want) in cases {
        let error = error_of(pool, sql).await;
        assert_eq!(
            is_retryable(&error),
            want,
            "is_retryable({what}) should be {want} (README, step 4)"
        );
    }
    assert!(
        !is_retryable(&sqlx::Error::PoolTimedOut),
        "a pool timeout is not retryable"
    );
    Ok(())
}

/// A body that always hits a serialization failure runs exactly
/// max_attempts times, counted by the database, and the error says so.
#[tokio::test]
async fn step4_a_body_that_always_conflicts_runs_exactly_max_attempts_times() -> anyhow::Result<()>
{
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    sqlx::raw_sql("CREATE SEQUENCE attempts")
        .execute(pool)
        .await?;
    for max in [1, 3] {
        sqlx::raw_sql("ALTER SEQUENCE attempts RESTART")
            .execute(pool)
            .await?;
        let result = labkit::within(
            BOUND,
            "run_serializable with a body that always conflicts",
            run_serializable(pool, &quick(max), async |tx: &mut PgConnection| {
                sqlx::raw_sql("SELECT nextval('attempts')")
                    .execute(&mut *tx)
                    .await?;
                sqlx::raw_sql(
                    "DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$",
                )
                .execute(&mut *tx)
                .await?;
                Ok(())
            }),
        )
        .await?;
        let ran: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM attempts",
        )
        .fetch_one(pool)
        .await?;
        assert!(
            matches!(result, Err(RetryError::GaveUp { attempts, .. }) if attempts == max),
            "with max_attempts {max}, expected GaveUp {{ attempts: {max} }}, got {result:?} (README, step 4)"
        );
        assert_eq!(
            ran,
            i64::from(max),
            "the body should have run {max} times, the database counted {ran}"
        );
    }
    Ok(())
}

/// A unique violation is returned on the first attempt, not retried.
#[tokio::test]
async fn step4_a_unique_violation_is_returned_at_once_and_never_retried() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    sqlx::raw_sql(
        "CREATE TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1); CREATE SEQUENCE attempts",
    )
    .execute(pool)
    .await?;
    let result = labkit::within(
        BOUND,
        "run_serializable with a body that violates a unique key",
        run_serializable(pool, &quick(5), async |tx: &mut PgConnection| {
            sqlx::raw_sql("SELECT nextval('attempts')")
                .execute(&mut *tx)
                .await?;
            sqlx::raw_sql("INSERT INTO u VALUES (1)")
                .execute(&mut *tx)
                .await?;
            Ok(())
        }),
    )
    .await?;
    let ran: i64 = sqlx::query_scalar("SELECT last_value FROM attempts")
        .fetch_one(pool)
        .await?;
    assert!(
        matches!(&result, Err(RetryError::Failed { attempts: 1, source })
            if source.as_database_error().and_then(|d| d.code()).as_deref() == Some("23505")),
        "a unique violation must come back as Failed {{ attempts: 1 }} with the 23505 error, got {result:?} (README, step 4)"
    );
    assert_eq!(
        ran, 1,
        "the body ran {ran} times; a unique violation is never retried"
    );
    Ok(())
}

/// The backoff is full jitter: a share of a ceiling that doubles from
/// base_delay per failed attempt and stops at max_delay.
#[test]
fn step4_the_backoff_is_full_jitter_under_a_doubling_capped_ceiling() {
    let policy = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };
    let ms = |attempt, jitter| policy.delay(attempt, jitter).as_secs_f64() * 1000.0;
    let cases = [
        (1, 0.0, 0.0),
        (1, 0.5, 5.0),
        (2, 0.5, 10.0),
        (3, 0.5, 20.0),
        (4, 0.5, 40.0),
        (4, 1.0, 80.0),
        (5, 1.0, 100.0),
        (5, 0.5, 50.0),
        (64, 0.5, 50.0),
        (u32::MAX, 1.0, 100.0),
    ];
    for (attempt, jitter, want) in cases {
        let got = ms(attempt, jitter);
        assert!(
            (got - want).abs() < 0.01,
            "delay(attempt {attempt}, jitter {jitter}) should be {want} ms, got {got} ms \
             (README, step 4: min(max_delay, base_delay × 2^(attempt−1)) × jitter)"
        );
    }
}

/// Two orders racing past the same credit limit: one is placed, the other is
/// retried from scratch, sees it, and is refused; nothing is emailed for it.
#[tokio::test]
async fn step4_two_orders_racing_past_the_credit_limit_place_one_and_refuse_the_other()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    orders::add_customer(pool, 1, "ada@example.com", 100).await?;
    let results = race_orders(pool, [(1, 60), (1, 60)]).await?;
    let placed = results.iter().filter(|(r, _)| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|(r, _)| {
            matches!(
                r,
                Err(OrderError::OverLimit {
                    open_cents: 60,
                    total_cents: 60,
                    credit_cents: 100
                })
            )
        })
        .count();
    assert_eq!(
        (placed, refused),
        (1, 1),
        "two orders of 60 against a limit of 100: one placed, one OverLimit after its retry; \
         got {:?} (README, step 4)",
        results.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
    let open: i64 = sqlx::query_scalar("SELECT coalesce(sum(total_cents), 0)::bigint FROM orders")
        .fetch_one(pool)
        .await?;
    assert_eq!(open, 60, "only one order stands");
    let sent = results[0].1.sent();
    assert_eq!(
        sent.len(),
        1,
        "one order placed, so one email in all; got {sent:?}"
    );
    Ok(())
}

/// Two racing orders that both fit: the one retried is still emailed once
/// and totalled from its own lines, however many attempts it took.
#[tokio::test]
async fn step4_a_retried_order_is_emailed_once_and_totalled_from_its_own_lines()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    orders::add_customer(pool, 1, "ada@example.com", 1_000).await?;
    let results = race_orders(pool, [(1, 60), (1, 70)]).await?;
    let mut attempts = Vec::new();
    for (result, mailer) in &results {
        let Ok(committed) = result else {
            panic!("both orders fit the limit and must be placed; got {result:?} (README, step 4)");
        };
        attempts.push(committed.attempts);
        let about_it = format!("order {} placed", committed.value);
        let sent: Vec<_> = mailer
            .sent()
            .into_iter()
            .filter(|e| e.body.starts_with(&about_it))
            .collect();
        assert_eq!(
            sent.len(),
            1,
            "order {} took {} attempts and must be emailed exactly once, was emailed {} times: \
             send through the outbox, after the commit (README, step 4)",
            committed.value,
            committed.attempts,
            sent.len()
        );
    }
    attempts.sort();
    // One went through at once; the other needed at least one retry. Not
    // exactly one: under load the retry can meet the winner's relay (its
    // outbox UPDATE) and be refused again, which is SSI doing its job.
    assert!(
        attempts[0] == 1 && attempts[1] >= 2,
        "one order went through at once, the other only after a retry: attempts {attempts:?}"
    );
    let totals: Vec<i64> =
        sqlx::query_scalar("SELECT total_cents FROM orders ORDER BY total_cents")
            .fetch_all(pool)
            .await?;
    assert_eq!(
        totals,
        vec![60, 70],
        "each order's total is the sum of its own lines, whatever attempt placed it; a total \
         carried over from a failed attempt shows up here (README, step 4)"
    );
    let attempted: i64 = sqlx::query_scalar("SELECT last_value FROM orders_id_seq")
        .fetch_one(pool)
        .await?;
    assert_eq!(
        attempted, 3,
        "the database saw three attempts to insert an order (2 + 1 retry)"
    );
    Ok(())
}

/// An order with no lines, a zero price or a negative quantity is refused and
/// writes nothing; an unknown customer is named; the limit is inclusive.
#[tokio::test]
async fn step4_bad_orders_are_refused_and_unknown_customers_named() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    orders::add_customer(pool, 1, "ada@example.com", 1_000).await?;
    // Another customer's open orders count against their own limit only.
    orders::add_customer(pool, 2, "bob@example.com", 5_000).await?;
    let mailer = Mailer::default();
    let line = |price_cents, quantity| Line {
        price_cents,
        quantity,
    };
    let bobs = NewOrder {
        customer: 2,
        lines: vec![line(900, 1)],
    };
    place_order(pool, &quick(3), &mailer, &bobs, &Gate::open()).await?;
    for lines in [
        vec![],
        vec![line(0, 1)],
        vec![line(10, 0)],
        vec![line(10, -1)],
        vec![line(10, 1), line(-5, 1)],
    ] {
        let order = NewOrder {
            customer: 1,
            lines: lines.clone(),
        };
        let result = place_order(pool, &quick(3), &mailer, &order, &Gate::open()).await;
        assert!(
            matches!(result, Err(OrderError::BadOrder)),
            "an order of {lines:?} must be BadOrder, got {result:?} (README, bad input)"
        );
    }
    let nobody = NewOrder {
        customer: 7,
        lines: vec![line(10, 1)],
    };
    let result = place_order(pool, &quick(3), &mailer, &nobody, &Gate::open()).await;
    assert!(
        matches!(result, Err(OrderError::UnknownCustomer(7))),
        "customer 7 does not exist, so UnknownCustomer(7), got {result:?} (README, bad input)"
    );
    let at_limit = NewOrder {
        customer: 1,
        lines: vec![line(250, 4)],
    };
    let exact = place_order(pool, &quick(3), &mailer, &at_limit, &Gate::open()).await;
    assert!(
        exact.is_ok(),
        "an order that brings customer 1 exactly to their limit is within it (customer 2's \
         orders are not theirs), got {exact:?} (README, step 4)"
    );
    let one_more = NewOrder {
        customer: 1,
        lines: vec![line(1, 1)],
    };
    let over = place_order(pool, &quick(3), &mailer, &one_more, &Gate::open()).await;
    assert!(
        matches!(
            over,
            Err(OrderError::OverLimit {
                open_cents: 1_000,
                total_cents: 1,
                credit_cents: 1_000
            })
        ),
        "one cent past the limit is OverLimit, got {over:?} (README, step 4)"
    );
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE customer_id = 1")
        .fetch_one(pool)
        .await?;
    assert_eq!(
        orders, 1,
        "only the order at the limit was placed for customer 1"
    );
    assert_eq!(
        mailer.sent().len(),
        2,
        "and only it (and customer 2's) was emailed"
    );
    Ok(())
}

/// Race two orders `(customer, total)` through place_order, both past their
/// reads before either writes, sharing one mailer. They run joined on
/// this task rather than spawned: an async closure's future is not provably
/// `Send` yet, so `place_order` cannot go to `tokio::spawn` (README, step 4).
pub async fn race_orders(
    pool: &sqlx::PgPool,
    orders: [(i32, i64); 2],
) -> anyhow::Result<
    Vec<(
        Result<isolation_levels::Committed<i64>, OrderError>,
        Arc<Mailer>,
    )>,
> {
    let gate = Gate::barrier(2);
    let policy = quick(5);
    let order = |(customer, total): (i32, i64)| NewOrder {
        customer,
        lines: vec![
            Line {
                price_cents: total / 2,
                quantity: 1,
            },
            Line {
                price_cents: total - total / 2,
                quantity: 1,
            },
        ],
    };
    let (first, second) = (order(orders[0]), order(orders[1]));
    let mailer = Arc::new(Mailer::default());
    let (a, b) = labkit::within(BOUND, "two racing orders", async {
        tokio::join!(
            place_order(pool, &policy, &mailer, &first, &gate),
            place_order(pool, &policy, &mailer, &second, &gate),
        )
    })
    .await?;
    Ok(vec![(a, Arc::clone(&mailer)), (b, mailer)])
}

/// Once the order has committed it stands: a relay that cannot mark its email
/// sent does not turn the order into an error, and the email stays queued.
#[tokio::test]
async fn step4_an_order_stands_when_the_relay_fails_after_the_commit() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    orders::add_customer(pool, 1, "ada@example.com", 1_000).await?;
    sqlx::raw_sql(
        "CREATE FUNCTION stuck() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN RAISE EXCEPTION 'the relay is broken'; END $$; \
         CREATE TRIGGER stuck BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION stuck()",
    )
    .execute(pool)
    .await?;
    let order = NewOrder {
        customer: 1,
        lines: vec![Line {
            price_cents: 10,
            quantity: 2,
        }],
    };
    let placed = place_order(pool, &quick(3), &Mailer::default(), &order, &Gate::open()).await;
    assert!(
        matches!(placed, Ok(ref c) if c.attempts == 1),
        "the order committed; the relay failing afterwards must not fail it, got {placed:?} \
         (README, step 4)"
    );
    let (orders, queued): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM outbox WHERE sent_at IS NULL)",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(
        (orders, queued),
        (1, 1),
        "the order stands and its email waits for the next relay"
    );
    Ok(())
}

/// Two transactions that both read and both write before either commits: SSI
/// can only refuse the second at its COMMIT, and that refusal is retried like
/// any other.
#[tokio::test]
async fn step4_a_conflict_reported_at_commit_is_retried() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    sqlx::raw_sql("CREATE TABLE t (id serial PRIMARY KEY, seen bigint)")
        .execute(pool)
        .await?;
    // Past this gate both transactions have read and written; neither has committed.
    let written = Gate::barrier(2);
    let attempt = async || {
        run_serializable(pool, &quick(3), async |tx: &mut PgConnection| {
            let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO t (seen) VALUES ($1)")
                .bind(seen)
                .execute(&mut *tx)
                .await?;
            written.after_read().await;
            Ok(seen)
        })
        .await
    };
    let (a, b) = labkit::within(BOUND, "two transactions that conflict at COMMIT", async {
        tokio::join!(attempt(), attempt())
    })
    .await?;
    let mut attempts = Vec::new();
    for result in [&a, &b] {
        match result {
            Ok(committed) => attempts.push(committed.attempts),
            Err(e) => panic!(
                "the COMMIT that SSI refused must be retried, not returned: {e:?} (README, step 4)"
            ),
        }
    }
    attempts.sort();
    assert_eq!(
        attempts,
        vec![1, 2],
        "one commits at once, the other on its second attempt"
    );
    let seen: Vec<i64> = sqlx::query_scalar("SELECT seen FROM t ORDER BY seen")
        .fetch_all(pool)
        .await?;
    assert_eq!(
        seen,
        vec![0, 1],
        "the retried attempt read the other's row: a serial order"
    );
    Ok(())
}

/// An order whose first COMMIT is refused with 40001 (a deferred trigger
/// raises it once, after the whole body has run) commits on its second attempt,
/// and is emailed once and totalled once: nothing the first attempt did
/// outside the database survives it.
#[tokio::test]
async fn step4_an_order_whose_first_commit_is_refused_is_emailed_once() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    let pool = support::pg(&db);
    orders::add_customer(pool, 1, "ada@example.com", 1_000).await?;
    // Deferred: it fires at COMMIT, once every statement of the attempt has run.
    sqlx::raw_sql(
        "CREATE SEQUENCE commits_seen; \
         CREATE FUNCTION refuse_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
           BEGIN \
             IF nextval('commits_seen') = 1 THEN \
               RAISE EXCEPTION 'refused once' USING ERRCODE = '40001'; \
             END IF; \
             RETURN NULL; \
           END $$; \
         CREATE CONSTRAINT TRIGGER refuse_first_commit AFTER INSERT ON outbox \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_first_commit()",
    )
    .execute(pool)
    .await?;
    let mailer = Mailer::default();
    let order = NewOrder {
        customer: 1,
        lines: vec![
            Line {
                price_cents: 30,
                quantity: 2,
            },
            Line {
                price_cents: 5,
                quantity: 1,
            },
        ],
    };
    let placed = labkit::within(
        BOUND,
        "an order whose first commit is refused",
        place_order(pool, &quick(3), &mailer, &order, &Gate::open()),
    )
    .await?;
    assert!(
        matches!(placed, Ok(ref c) if c.attempts == 2),
        "the first COMMIT failed with 40001 and must be retried: expected Committed at attempt \
         2, got {placed:?} (README, step 4)"
    );
    let sent = mailer.sent();
    assert_eq!(
        sent.len(),
        1,
        "the order took two attempts and must be emailed once, was emailed {}: {sent:?} — send \
         through the outbox, after the commit (README, step 4)",
        sent.len()
    );
    let totals: Vec<i64> = sqlx::query_scalar("SELECT total_cents FROM orders")
        .fetch_all(pool)
        .await?;
    assert_eq!(
        totals,
        vec![65],
        "one order, totalled once from its own lines (2 × 30 + 5)"
    );
    Ok(())
}
