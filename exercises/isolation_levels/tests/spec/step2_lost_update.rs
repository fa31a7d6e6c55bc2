//! Step 2: a lost update, shown on the provided code and fixed three ways.

use isolation_levels::seats::tally;
use isolation_levels::{
    AtomicUpdate, BuyError, ForUpdate, Gate, Inventory, ReadModifyWrite, RepeatableReadRetry,
    schema,
};

use crate::support::buying::{assert_never_oversells, bad_input, boundary, race_two};
use crate::support::{self, BOUND};

/// The provided read-modify-write sells the last seat twice when both buyers
/// read before either writes; REPEATABLE READ with retry sells it once.
#[tokio::test]
async fn step2_read_modify_write_sells_the_last_seat_twice_and_repeatable_read_retry_once()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    schema::add_event(&db, 1, 1).await?;
    let naive = race_two(&db, &ReadModifyWrite, 1).await?;
    assert!(
        naive.iter().all(|r| r.is_ok()),
        "the provided code should sell the seat twice: {naive:?}"
    );
    assert_eq!(
        tally(&db, 1).await?,
        (0, 2),
        "one seat, two purchases: the bug"
    );

    schema::add_event(&db, 2, 1).await?;
    let fixed = race_two(&db, &RepeatableReadRetry::default(), 2).await?;
    let bought = fixed.iter().filter(|r| r.is_ok()).count();
    let sold_out = fixed
        .iter()
        .filter(|r| matches!(r, Err(BuyError::SoldOut { available: 0 })))
        .count();
    assert_eq!(
        (bought, sold_out),
        (1, 1),
        "with REPEATABLE READ + retry, one buyer gets the seat and the other, retried from a \
         fresh snapshot, SoldOut {{ available: 0 }}; got {fixed:?} (README, step 2)"
    );
    assert_eq!(tally(&db, 2).await?, (0, 1));
    Ok(())
}

/// With one attempt allowed, the buyer that loses the race gets Conflict and
/// changes nothing; with two, it gets SoldOut: the bound is exact.
#[tokio::test]
async fn step2_repeatable_read_retry_stops_after_exactly_max_attempts() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    schema::add_event(&db, 1, 1).await?;
    let once = race_two(&db, &RepeatableReadRetry { max_attempts: 1 }, 1).await?;
    assert!(
        once.iter()
            .any(|r| matches!(r, Err(BuyError::Conflict { attempts: 1 })))
            && once.iter().any(|r| r.is_ok()),
        "with max_attempts 1, the loser's only attempt conflicts: expected one Ok and one \
         Conflict {{ attempts: 1 }}, got {once:?} (README, step 2)"
    );
    assert_eq!(
        tally(&db, 1).await?,
        (0, 1),
        "the conflicted attempt changed nothing"
    );

    schema::add_event(&db, 2, 1).await?;
    let twice = race_two(&db, &RepeatableReadRetry { max_attempts: 2 }, 2).await?;
    assert!(
        twice
            .iter()
            .any(|r| matches!(r, Err(BuyError::SoldOut { available: 0 })))
            && twice.iter().any(|r| r.is_ok()),
        "with max_attempts 2, the loser's second attempt sees the seat gone: expected one Ok \
         and one SoldOut, got {twice:?} (README, step 2)"
    );
    Ok(())
}

/// SELECT … FOR UPDATE holds a lock that even a shared lock request cannot
/// get while the buyer decides.
#[tokio::test]
async fn step2_for_update_holds_an_exclusive_row_lock_while_the_buyer_decides() -> anyhow::Result<()>
{
    let (_guard, db) = support::postgres().await?;
    schema::add_event(&db, 1, 5).await?;
    let (gate, held) = Gate::hold();
    let buyer = {
        let db = db.clone();
        tokio::spawn(async move { ForUpdate.buy(&db, 1, 2, &gate).await })
    };
    assert!(
        held.reached().await,
        "ForUpdate never called gate.after_read() after its read"
    );
    let probe = sqlx::query("SELECT available FROM seats WHERE event_id = 1 FOR SHARE NOWAIT")
        .execute(support::pg(&db))
        .await;
    held.release();
    assert_eq!(
        support::sqlstate(&probe).as_deref(),
        Some("55P03"),
        "while the buyer decides, its row must be locked FOR UPDATE (FOR SHARE NOWAIT from \
         another session should fail with 55P03 lock_not_available); got {probe:?} (README, step 2)"
    );
    let purchase = labkit::within(BOUND, "the held buyer", buyer).await???;
    assert_eq!(purchase.remaining, 3);
    Ok(())
}

/// Fifty concurrent buyers of twenty seats: the atomic UPDATE sells exactly twenty.
#[tokio::test]
async fn step2_fifty_buyers_never_oversell_with_the_atomic_update() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    assert_never_oversells(&db, &AtomicUpdate, 1).await
}

/// Fifty concurrent buyers of twenty seats: FOR UPDATE sells exactly twenty.
#[tokio::test]
async fn step2_fifty_buyers_never_oversell_with_for_update() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    assert_never_oversells(&db, &ForUpdate, 1).await
}

/// Fifty concurrent buyers of twenty seats: REPEATABLE READ + retry sells
/// exactly twenty (with enough attempts for fifty-way contention).
#[tokio::test]
async fn step2_fifty_buyers_never_oversell_with_repeatable_read_retry() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    assert_never_oversells(&db, &RepeatableReadRetry { max_attempts: 100 }, 1).await
}

/// Asking for exactly what is left succeeds; one more than is left is
/// SoldOut and changes nothing — for each fix.
#[tokio::test]
async fn step2_each_fix_sells_exactly_what_is_left_and_refuses_one_more() -> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    boundary(&db, &AtomicUpdate, 1).await?;
    boundary(&db, &ForUpdate, 2).await?;
    boundary(&db, &RepeatableReadRetry::default(), 3).await
}

/// A quantity below 1 and an unknown event are refused with their own errors,
/// and nothing changes — for each fix.
#[tokio::test]
async fn step2_bad_quantities_and_unknown_events_are_refused_and_change_nothing()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    bad_input(&db, &AtomicUpdate, 1).await?;
    bad_input(&db, &ForUpdate, 2).await?;
    bad_input(&db, &RepeatableReadRetry::default(), 3).await
}

/// A database error that is not a conflict (here a CHECK-style refusal when
/// the purchase is recorded) comes back as it is, never as a retry or a
/// Conflict, and takes the seats' change with it: one transaction.
#[tokio::test]
async fn step2_a_failure_recording_the_purchase_undoes_the_seats_and_is_returned_as_it_is()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN RAISE EXCEPTION 'purchases are closed' USING ERRCODE = '23514'; END $$; \
         CREATE TRIGGER refuse BEFORE INSERT ON purchases FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    .execute(support::pg(&db))
    .await?;
    refused_purchase(&db, &AtomicUpdate, 1, "23514").await?;
    refused_purchase(&db, &ForUpdate, 2, "23514").await?;
    refused_purchase(&db, &RepeatableReadRetry::default(), 3, "23514").await
}

/// `fix` buying 2 of 5 seats of `event` fails with `sqlstate` and changes nothing.
pub async fn refused_purchase<I: Inventory>(
    db: &isolation_levels::Db,
    fix: &I,
    event: i32,
    sqlstate: &str,
) -> anyhow::Result<()> {
    schema::add_event(db, event, 5).await?;
    let result = fix.buy(db, event, 2, &Gate::open()).await;
    let got = match &result {
        Err(BuyError::Db(e)) => e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned()),
        _ => None,
    };
    assert_eq!(
        got.as_deref(),
        Some(sqlstate),
        "{} on {}: recording the purchase failed with SQLSTATE {sqlstate}; buy must return \
         that error as BuyError::Db, got {result:?} (README, step 2)",
        fix.name(),
        db.engine()
    );
    assert_eq!(
        tally(db, event).await?,
        (5, 0),
        "{} on {}: the purchase could not be recorded, so the seats must not be taken either: \
         the UPDATE and the INSERT belong to one transaction (README, step 2)",
        fix.name(),
        db.engine()
    );
    Ok(())
}

/// A buyer that had to wait for another transaction holding the last seat's
/// row, and lost it, is told `SoldOut { available: 0 }` — what is left after
/// the wait, never a count read before it.
#[tokio::test]
async fn step2_a_buyer_who_waited_for_the_last_seat_and_lost_it_is_told_zero_are_left()
-> anyhow::Result<()> {
    let (_guard, db) = support::postgres().await?;
    waited_and_lost(&db, &AtomicUpdate, 1).await?;
    waited_and_lost(&db, &ForUpdate, 2).await?;
    waited_and_lost(&db, &RepeatableReadRetry::default(), 3).await
}

async fn waited_and_lost<I: Inventory + Clone + 'static>(
    db: &isolation_levels::Db,
    fix: &I,
    event: i32,
) -> anyhow::Result<()> {
    let pool = support::pg(db);
    schema::add_event(db, event, 1).await?;
    // Another buyer's transaction has taken the last seat and not committed.
    let mut other = pool.begin().await?;
    sqlx::query("UPDATE seats SET available = 0 WHERE event_id = $1")
        .bind(event)
        .execute(&mut *other)
        .await?;
    let buyer = {
        let (db, fix) = (db.clone(), fix.clone());
        tokio::spawn(async move { fix.buy(&db, event, 1, &Gate::open()).await })
    };
    // Only the buyer can be queued here, behind `other`.
    support::seen_before_it_finished(pool, &buyer, support::SOMEONE_WAITS_FOR_A_LOCK, fix.name())
        .await?;
    sqlx::query("INSERT INTO purchases (event_id, quantity) VALUES ($1, 1)")
        .bind(event)
        .execute(&mut *other)
        .await?;
    other.commit().await?;
    let result = labkit::within(BOUND, "the buyer who waited", buyer).await??;
    assert!(
        matches!(result, Err(BuyError::SoldOut { available: 0 })),
        "{}: the seat went to the transaction it waited for, so SoldOut {{ available: 0 }}, got \
         {result:?} (README, step 2)",
        fix.name()
    );
    assert_eq!(tally(db, event).await?, (0, 1));
    Ok(())
}
