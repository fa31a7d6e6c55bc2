//! Step 2 (and 5): three ways to sell seats without overselling, on both
//! engines. Each records the purchase (seats.rs has the helpers) in the
//! transaction that takes the seats, refuses a quantity below 1 before
//! touching the database, and tells an unknown event from a sold-out one.

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
        gate: &Gate,
    ) -> Result<Purchase, BuyError> {
        // TODO(step 2): one guarded UPDATE takes the seats (Postgres can return
        // what is left); when it changes nothing, say why: SoldOut or
        // UnknownEvent.
        // TODO(step 5): the MariaDB arm: `?` placeholders, and no UPDATE … RETURNING.
        todo!("step 2: the atomic UPDATE (README step 2)")
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
        // TODO(step 2): lock the row as you read it, call gate.after_read(),
        // decide, write, record, commit.
        // TODO(step 5): the MariaDB arm.
        todo!("step 2: SELECT … FOR UPDATE (README step 2)")
    }
}

impl RepeatableReadRetry {
    /// Step 5: does this fix prevent the lost update on the server `facts`
    /// describes?
    pub fn safe_on(facts: &ServerFacts) -> bool {
        // TODO(step 5): say what step 5's tests show about each engine.
        todo!("step 5: when REPEATABLE READ + retry is safe (README step 5)")
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
        // TODO(step 2): read and write at REPEATABLE READ (call gate.after_read()
        // after the read); on a concurrency abort start a new transaction, at
        // most max_attempts in all, then BuyError::Conflict.
        // TODO(step 5): the MariaDB arm (SET TRANSACTION … before it begins).
        todo!("step 2: REPEATABLE READ with retry (README step 2)")
    }
}
