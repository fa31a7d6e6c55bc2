//! Step 2 (and 5): three ways to sell seats without overselling, on both engines.
//!
//! | fix                    | how it is safe                                         | cost                                     |
//! |------------------------|--------------------------------------------------------|------------------------------------------|
//! | [`AtomicUpdate`]       | the check and the write are one statement; the row lock serializes buyers, and the `WHERE` is re-checked on the row as it is after the wait | one round trip; the cheapest |
//! | [`ForUpdate`]          | the read takes the row lock, so a second buyer's read waits for the first buyer's commit | holds the lock across the application's decision |
//! | [`RepeatableReadRetry`]| Postgres refuses to update a row changed since the snapshot (40001); we retry | retries under contention; on MariaDB it is safe only with `innodb_snapshot_isolation` |
//!
//! Every fix records the purchase in the transaction that takes the seats,
//! refuses a quantity below 1 before touching the database, and tells an
//! unknown event from a sold-out one.

use sqlx::Connection;

use crate::db::{Db, DbFailure, Engine};
use crate::facts::ServerFacts;
use crate::gate::Gate;
use crate::seats::{BuyError, Inventory, Purchase, record_purchase_mysql, record_purchase_pg};

/// `UPDATE … SET available = available - n WHERE … AND available >= n`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AtomicUpdate;

/// `SELECT … FOR UPDATE`, decide, `UPDATE`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ForUpdate;

/// Read and write at REPEATABLE READ; retry the whole transaction when the
/// engine reports that a concurrent buyer changed the row.
#[derive(Clone, Copy, Debug)]
pub struct RepeatableReadRetry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for RepeatableReadRetry {
    fn default() -> Self {
        RepeatableReadRetry { max_attempts: 10 }
    }
}

impl Inventory for AtomicUpdate {
    fn name(&self) -> &'static str {
        "atomic UPDATE"
    }

    async fn buy(
        &self,
        db: &Db,
        event: i32,
        quantity: i32,
        _gate: &Gate,
    ) -> Result<Purchase, BuyError> {
        if quantity < 1 {
            return Err(BuyError::BadQuantity(quantity));
        }
        match db {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // The guard is what makes it safe: a buyer that waited for the
                // row lock re-evaluates `available >= $2` on the row as the
                // first buyer left it, not as it was when it started.
                let remaining: Option<i32> = sqlx::query_scalar(
                    "UPDATE seats SET available = available - $2 \
                      WHERE event_id = $1 AND available >= $2 \
                  RETURNING available",
                )
                .bind(event)
                .bind(quantity)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(remaining) = remaining else {
                    tx.rollback().await?;
                    return Err(refusal(db, event).await);
                };
                record_purchase_pg(&mut tx, event, quantity).await?;
                tx.commit().await?;
                Ok(Purchase { remaining })
            }
            Db::MariaDb(pool) => {
                let mut tx = pool.begin().await?;
                // MariaDB has no UPDATE … RETURNING; the transaction reads its
                // own write back while it still holds the row lock.
                let updated = sqlx::query(
                    "UPDATE seats SET available = available - ? \
                      WHERE event_id = ? AND available >= ?",
                )
                .bind(quantity)
                .bind(event)
                .bind(quantity)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Err(refusal(db, event).await);
                }
                let remaining: i32 =
                    sqlx::query_scalar("SELECT available FROM seats WHERE event_id = ?")
                        .bind(event)
                        .fetch_one(&mut *tx)
                        .await?;
                record_purchase_mysql(&mut tx, event, quantity).await?;
                tx.commit().await?;
                Ok(Purchase { remaining })
            }
        }
    }
}

/// Why a guarded UPDATE changed nothing: no such event, or too few seats.
async fn refusal(db: &Db, event: i32) -> BuyError {
    let available: Result<Option<i32>, sqlx::Error> = match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT available FROM seats WHERE event_id = $1")
                .bind(event)
                .fetch_optional(pool)
                .await
        }
        Db::MariaDb(pool) => {
            sqlx::query_scalar("SELECT available FROM seats WHERE event_id = ?")
                .bind(event)
                .fetch_optional(pool)
                .await
        }
    };
    match available {
        Ok(Some(available)) => BuyError::SoldOut { available },
        Ok(None) => BuyError::UnknownEvent(event),
        Err(e) => BuyError::Db(e),
    }
}

impl Inventory for ForUpdate {
    fn name(&self) -> &'static str {
        "SELECT … FOR UPDATE"
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
        match db {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // FOR UPDATE, not FOR SHARE: two shared locks do not exclude each
                // other, so two buyers would both read 1 and then deadlock (or,
                // on an engine that upgrades differently, both write).
                let available: Option<i32> = sqlx::query_scalar(
                    "SELECT available FROM seats WHERE event_id = $1 FOR UPDATE",
                )
                .bind(event)
                .fetch_optional(&mut *tx)
                .await?;
                let available = available.ok_or(BuyError::UnknownEvent(event))?;
                gate.after_read().await;
                if available < quantity {
                    return Err(BuyError::SoldOut { available });
                }
                let remaining = available - quantity;
                sqlx::query("UPDATE seats SET available = $2 WHERE event_id = $1")
                    .bind(event)
                    .bind(remaining)
                    .execute(&mut *tx)
                    .await?;
                record_purchase_pg(&mut tx, event, quantity).await?;
                tx.commit().await?;
                Ok(Purchase { remaining })
            }
            Db::MariaDb(pool) => {
                let mut tx = pool.begin().await?;
                let available: Option<i32> =
                    sqlx::query_scalar("SELECT available FROM seats WHERE event_id = ? FOR UPDATE")
                        .bind(event)
                        .fetch_optional(&mut *tx)
                        .await?;
                let available = available.ok_or(BuyError::UnknownEvent(event))?;
                gate.after_read().await;
                if available < quantity {
                    return Err(BuyError::SoldOut { available });
                }
                let remaining = available - quantity;
                sqlx::query("UPDATE seats SET available = ? WHERE event_id = ?")
                    .bind(remaining)
                    .bind(event)
                    .execute(&mut *tx)
                    .await?;
                record_purchase_mysql(&mut tx, event, quantity).await?;
                tx.commit().await?;
                Ok(Purchase { remaining })
            }
        }
    }
}

impl RepeatableReadRetry {
    /// Step 5: does this fix prevent the lost update on the server `facts`
    /// describes? Postgres aborts the second writer of a row at REPEATABLE READ
    /// (40001); InnoDB only does when `innodb_snapshot_isolation` is on
    /// (error 1020). Otherwise its REPEATABLE READ updates the row as it is
    /// *now* and the write based on the stale read goes through.
    pub fn safe_on(facts: &ServerFacts) -> bool {
        match facts.engine {
            Engine::Postgres => true,
            Engine::MariaDb => facts.snapshot_isolation == Some(true),
        }
    }

    /// One attempt, with its outcome: `Ok(Err(..))` is a refusal to report,
    /// `Err(..)` a database error (perhaps a conflict to retry).
    async fn attempt(
        &self,
        db: &Db,
        event: i32,
        quantity: i32,
        gate: &Gate,
    ) -> Result<Result<Purchase, BuyError>, sqlx::Error> {
        match db {
            Db::Postgres(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                let available: Option<i32> =
                    sqlx::query_scalar("SELECT available FROM seats WHERE event_id = $1")
                        .bind(event)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(available) = available else {
                    return Ok(Err(BuyError::UnknownEvent(event)));
                };
                gate.after_read().await;
                if available < quantity {
                    return Ok(Err(BuyError::SoldOut { available }));
                }
                let remaining = available - quantity;
                // If another buyer changed the row since our snapshot, this
                // waits for its commit and then fails with 40001.
                sqlx::query("UPDATE seats SET available = $2 WHERE event_id = $1")
                    .bind(event)
                    .bind(remaining)
                    .execute(&mut *tx)
                    .await?;
                record_purchase_pg(&mut tx, event, quantity).await?;
                tx.commit().await?;
                Ok(Ok(Purchase { remaining }))
            }
            Db::MariaDb(pool) => {
                let mut conn = pool.acquire().await?;
                // SET TRANSACTION applies to the next transaction on this
                // connection only, which is the one begun below.
                sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *conn)
                    .await?;
                let mut tx = conn.begin().await?;
                let available: Option<i32> =
                    sqlx::query_scalar("SELECT available FROM seats WHERE event_id = ?")
                        .bind(event)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(available) = available else {
                    return Ok(Err(BuyError::UnknownEvent(event)));
                };
                gate.after_read().await;
                if available < quantity {
                    return Ok(Err(BuyError::SoldOut { available }));
                }
                let remaining = available - quantity;
                sqlx::query("UPDATE seats SET available = ? WHERE event_id = ?")
                    .bind(remaining)
                    .bind(event)
                    .execute(&mut *tx)
                    .await?;
                record_purchase_mysql(&mut tx, event, quantity).await?;
                tx.commit().await?;
                Ok(Ok(Purchase { remaining }))
            }
        }
    }
}

impl Inventory for RepeatableReadRetry {
    fn name(&self) -> &'static str {
        "REPEATABLE READ + retry"
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
        for _ in 0..self.max_attempts {
            match self.attempt(db, event, quantity, gate).await {
                Ok(outcome) => return outcome,
                // A conflict: start again from a fresh snapshot, which sees the
                // other buyer's commit.
                Err(e) if DbFailure::of(&e).is_concurrency_abort() => continue,
                Err(e) => return Err(BuyError::Db(e)),
            }
        }
        Err(BuyError::Conflict {
            attempts: self.max_attempts,
        })
    }
}
