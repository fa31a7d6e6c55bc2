// PROVIDED: the seat inventory's interface, and the code that oversells (step 2).
// You do not need to change this file; your fixes go in fixes.rs.

//! Selling seats: the interface every fix implements, and the bug.
//!
//! [`ReadModifyWrite`] is what most first versions look like: read how many
//! seats are left, check, write the new number. Under READ COMMITTED two buyers
//! can both read 1, both pass the check, and both write 0: two purchases, one
//! seat. Nothing failed, nothing was logged, and the event is oversold.

use std::future::Future;

use crate::db::Db;
use crate::gate::Gate;

/// A successful purchase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purchase {
    /// Seats left for the event after this purchase, as this purchase's
    /// transaction saw them.
    pub remaining: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum BuyError {
    /// Fewer seats are left than were asked for; nothing was changed.
    #[error("only {available} seats are left")]
    SoldOut { available: i32 },
    /// No such event; nothing was changed.
    #[error("there is no event {0}")]
    UnknownEvent(i32),
    /// A quantity below 1; refused before touching the database.
    #[error("a purchase is of 1 seat or more, not {0}")]
    BadQuantity(i32),
    /// Every attempt hit a serialization failure (REPEATABLE READ + retry).
    #[error("gave up after {attempts} attempts, each in conflict with another buyer")]
    Conflict { attempts: u32 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A way to sell `quantity` seats of `event` without overselling.
///
/// Every implementation records a successful purchase as a row in `purchases`,
/// in the same transaction that takes the seats, so "seats taken" and "seats
/// sold" can be compared afterwards. Each calls `gate.after_read()` once it has
/// read what its write depends on (an implementation that reads nothing first
/// need not call it).
pub trait Inventory: Send + Sync {
    /// For messages and benches: "atomic UPDATE", "SELECT … FOR UPDATE", …
    fn name(&self) -> &'static str;

    fn buy(
        &self,
        db: &Db,
        event: i32,
        quantity: i32,
        gate: &Gate,
    ) -> impl Future<Output = Result<Purchase, BuyError>> + Send;
}

/// The bug: read, decide in the application, write back what was decided.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadModifyWrite;

impl Inventory for ReadModifyWrite {
    fn name(&self) -> &'static str {
        "read-modify-write (oversells)"
    }

    async fn buy(
        &self,
        db: &Db,
        event: i32,
        quantity: i32,
        gate: &Gate,
    ) -> Result<Purchase, BuyError> {
        if quantity < 1 {
            return Err(BuyError::BadQuantity(quantity));
        }
        // Postgres only: this is the code path the tests prove the bug on.
        let Db::Postgres(pool) = db else {
            unimplemented!("the read-modify-write demonstration runs on Postgres")
        };
        let mut tx = pool.begin().await?;
        let available: Option<i32> =
            sqlx::query_scalar("SELECT available FROM seats WHERE event_id = $1")
                .bind(event)
                .fetch_optional(&mut *tx)
                .await?;
        let available = available.ok_or(BuyError::UnknownEvent(event))?;
        gate.after_read().await;
        if available < quantity {
            return Err(BuyError::SoldOut { available });
        }
        let remaining = available - quantity;
        // The bug: `remaining` was computed from a read another buyer may have
        // made stale by now.
        sqlx::query("UPDATE seats SET available = $2 WHERE event_id = $1")
            .bind(event)
            .bind(remaining)
            .execute(&mut *tx)
            .await?;
        record_purchase_pg(&mut tx, event, quantity).await?;
        tx.commit().await?;
        Ok(Purchase { remaining })
    }
}

/// Insert the purchase row, on Postgres, inside the caller's transaction.
pub async fn record_purchase_pg(
    conn: &mut sqlx::PgConnection,
    event: i32,
    quantity: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO purchases (event_id, quantity) VALUES ($1, $2)")
        .bind(event)
        .bind(quantity)
        .execute(conn)
        .await
        .map(drop)
}

/// Insert the purchase row, on MariaDB, inside the caller's transaction.
pub async fn record_purchase_mysql(
    conn: &mut sqlx::MySqlConnection,
    event: i32,
    quantity: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO purchases (event_id, quantity) VALUES (?, ?)")
        .bind(event)
        .bind(quantity)
        .execute(conn)
        .await
        .map(drop)
}

/// Seats left and seats sold for `event`: after any number of purchases on an
/// event that started with `n` seats, a correct inventory has
/// `available + sold == n` and `available >= 0`.
pub async fn tally(db: &Db, event: i32) -> Result<(i32, i64), sqlx::Error> {
    match db {
        Db::Postgres(pool) => {
            sqlx::query_as(
                "SELECT s.available, \
                        (SELECT coalesce(sum(quantity), 0)::bigint FROM purchases p WHERE p.event_id = s.event_id) \
                   FROM seats s WHERE s.event_id = $1",
            )
            .bind(event)
            .fetch_one(pool)
            .await
        }
        Db::MariaDb(pool) => {
            sqlx::query_as(
                "SELECT s.available, \
                        CAST((SELECT coalesce(sum(quantity), 0) FROM purchases p WHERE p.event_id = s.event_id) AS SIGNED) \
                   FROM seats s WHERE s.event_id = ?",
            )
            .bind(event)
            .fetch_one(pool)
            .await
        }
    }
}
