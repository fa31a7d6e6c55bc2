//! Step 2, hidden: a purchase of several seats is recorded as what it was.

use isolation_levels::seats::tally;
use isolation_levels::{AtomicUpdate, ForUpdate, Gate, Inventory, RepeatableReadRetry, schema};

use crate::support;

/// Buying 3 seats takes 3 and records a purchase of 3, for each fix on each
/// engine: "seats taken" and "seats sold" agree.
#[tokio::test]
async fn step2_hidden_a_purchase_of_several_seats_records_its_quantity() -> anyhow::Result<()> {
    let (_pg_guard, pg) = support::postgres().await?;
    let (_my_guard, my) = support::mariadb().await?;
    for (event, db) in [(1, &pg), (2, &my)] {
        several(db, &AtomicUpdate, event * 10 + 1).await?;
        several(db, &ForUpdate, event * 10 + 2).await?;
    }
    several(&pg, &RepeatableReadRetry::default(), 30).await
}

async fn several<I: Inventory>(
    db: &isolation_levels::Db,
    fix: &I,
    event: i32,
) -> anyhow::Result<()> {
    schema::add_event(db, event, 10).await?;
    let purchase = fix.buy(db, event, 3, &Gate::open()).await?;
    assert_eq!(
        purchase.remaining,
        7,
        "{} on {}: 10 − 3 left",
        fix.name(),
        db.engine()
    );
    assert_eq!(
        tally(db, event).await?,
        (7, 3),
        "{} on {}: 3 seats taken must be recorded as a purchase of 3 (README, step 2)",
        fix.name(),
        db.engine()
    );
    Ok(())
}
