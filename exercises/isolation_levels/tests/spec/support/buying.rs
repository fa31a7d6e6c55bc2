//! Buyers for steps 2 and 5: races made certain with a gate, stampedes, and
//! the boundary and bad-input checks every fix must pass on either engine.

use isolation_levels::seats::tally;
use isolation_levels::{BuyError, Db, Gate, Inventory, schema};

use super::BOUND;

/// Two buyers of `event`'s seats, both past their read before either writes.
pub async fn race_two<I: Inventory + Clone + 'static>(
    db: &Db,
    fix: &I,
    event: i32,
) -> anyhow::Result<Vec<Result<i32, BuyError>>> {
    let gate = Gate::barrier(2);
    let mut buyers = Vec::new();
    for _ in 0..2 {
        let (db, fix, gate) = (db.clone(), fix.clone(), gate.clone());
        buyers.push(tokio::spawn(async move {
            fix.buy(&db, event, 1, &gate).await.map(|p| p.remaining)
        }));
    }
    let mut results = Vec::new();
    for buyer in buyers {
        results.push(labkit::within(BOUND, "a racing buyer", buyer).await??);
    }
    Ok(results)
}

/// `buyers` concurrent buyers of one seat each, on an event of `seats` seats:
/// how many bought, how many were told `SoldOut { available: 0 }`, and every
/// other outcome (an error, a refusal that contradicts itself, a wrong report
/// of the seats remaining).
pub async fn stampede<I: Inventory + Clone + 'static>(
    db: &Db,
    fix: &I,
    event: i32,
    seats: i32,
    buyers: usize,
) -> anyhow::Result<(usize, usize, Vec<String>)> {
    schema::add_event(db, event, seats).await?;
    let mut tasks = Vec::new();
    for _ in 0..buyers {
        let (db, fix) = (db.clone(), fix.clone());
        tasks.push(tokio::spawn(async move {
            fix.buy(&db, event, 1, &Gate::open()).await
        }));
    }
    let (mut remaining, mut sold_out, mut errors) = (Vec::new(), 0, Vec::new());
    for task in tasks {
        match labkit::within(BOUND, "a buyer", task).await?? {
            Ok(purchase) => remaining.push(purchase.remaining),
            Err(BuyError::SoldOut { available: 0 }) => sold_out += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    // Each purchase reports what its own transaction left, so the reports of
    // `seats` purchases of one seat are exactly seats-1, …, 1, 0.
    remaining.sort_unstable();
    let expected: Vec<i32> = (0..seats).collect();
    if remaining.len() == expected.len() && remaining != expected {
        errors.push(format!(
            "the purchases reported {remaining:?} seats remaining; each should report what its \
             own transaction left, so exactly 0..{seats} once each"
        ));
    }
    Ok((remaining.len(), sold_out, errors))
}

/// Assert that `fix` sold exactly `seats` of them and lost nothing.
pub async fn assert_never_oversells<I: Inventory + Clone + 'static>(
    db: &Db,
    fix: &I,
    event: i32,
) -> anyhow::Result<()> {
    let (bought, sold_out, errors) = stampede(db, fix, event, 20, 50).await?;
    let (available, sold) = tally(db, event).await?;
    assert!(
        errors.is_empty(),
        "{} on {}: every buyer should get a seat or SoldOut, but {} got errors: {:?} (README, step 2)",
        fix.name(),
        db.engine(),
        errors.len(),
        errors
    );
    assert_eq!(
        (bought, sold_out, available, sold),
        (20, 30, 0, 20),
        "{} on {}: 50 buyers of 20 seats should give 20 purchases, 30 sold out, 0 left and \
         20 recorded; got (bought, sold out, left, recorded) as shown (README, step 2)",
        fix.name(),
        db.engine()
    );
    Ok(())
}

/// Each fix at its boundary: 4 of 3 refused, 3 of 3 sold, then 1 more refused.
pub async fn boundary<I: Inventory>(db: &Db, fix: &I, event: i32) -> anyhow::Result<()> {
    schema::add_event(db, event, 3).await?;
    let too_many = fix.buy(db, event, 4, &Gate::open()).await;
    assert!(
        matches!(too_many, Err(BuyError::SoldOut { available: 3 })),
        "{} on {}: 4 of 3 seats must be SoldOut {{ available: 3 }}, got {too_many:?} (README, step 2)",
        fix.name(),
        db.engine()
    );
    assert_eq!(
        tally(db, event).await?.0,
        3,
        "{}: a refusal changes nothing",
        fix.name()
    );
    let all = fix.buy(db, event, 3, &Gate::open()).await;
    assert!(
        matches!(all, Ok(p) if p.remaining == 0),
        "{} on {}: 3 of 3 seats must sell, leaving 0; got {all:?} (README, step 2)",
        fix.name(),
        db.engine()
    );
    let one_more = fix.buy(db, event, 1, &Gate::open()).await;
    assert!(
        matches!(one_more, Err(BuyError::SoldOut { available: 0 })),
        "{} on {}: with 0 left, 1 more must be SoldOut {{ available: 0 }}, got {one_more:?}",
        fix.name(),
        db.engine()
    );
    assert_eq!(
        tally(db, event).await?.0,
        0,
        "{}: never below zero",
        fix.name()
    );
    Ok(())
}

/// Each fix refuses quantities below 1 and unknown events, changing nothing.
pub async fn bad_input<I: Inventory>(db: &Db, fix: &I, event: i32) -> anyhow::Result<()> {
    schema::add_event(db, event, 5).await?;
    for quantity in [0, -1] {
        let result = fix.buy(db, event, quantity, &Gate::open()).await;
        assert!(
            matches!(result, Err(BuyError::BadQuantity(q)) if q == quantity),
            "{} on {}: a quantity of {quantity} must be BadQuantity, got {result:?} (README, bad input)",
            fix.name(),
            db.engine()
        );
    }
    let unknown = fix.buy(db, 999, 1, &Gate::open()).await;
    assert!(
        matches!(unknown, Err(BuyError::UnknownEvent(999))),
        "{} on {}: event 999 does not exist, so UnknownEvent(999), got {unknown:?} (README, bad input)",
        fix.name(),
        db.engine()
    );
    assert_eq!(
        tally(db, event).await?,
        (5, 0),
        "{}: bad input changes nothing",
        fix.name()
    );
    Ok(())
}
