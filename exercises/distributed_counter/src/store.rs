//! Step 2 — a node's counters, durable in its own Postgres database.
//!
//! Tables `counter_slots` and `applied_requests` (see `migrations/`). An
//! increment is acknowledged only once committed; its request id is recorded
//! in the same transaction so that a retry is applied once.

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::crdt::PnCounter;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The increment would overflow the counter: nothing was written.
    #[error("the counter would overflow")]
    Overflow,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Store {
        Store { pool }
    }

    /// Apply `delta` to `replica`'s own slot, once per `request_id`; return the
    /// counter's state afterwards.
    pub async fn increment(
        &self,
        counter: &str,
        replica: &str,
        delta: i64,
        request_id: &str,
    ) -> Result<PnCounter, StoreError> {
        // TODO(step 2)
        todo!("step 2: Store::increment — see README step 2")
    }

    /// The counter's state, or `None` if this node has never heard of it.
    pub async fn load(&self, counter: &str) -> Result<Option<PnCounter>, StoreError> {
        // TODO(step 2)
        todo!("step 2: Store::load — see README step 2")
    }

    /// Every counter this node knows.
    pub async fn all(&self) -> Result<BTreeMap<String, PnCounter>, StoreError> {
        // TODO(step 3)
        todo!("step 3: Store::all — see README step 3")
    }

    /// Merge states received from a peer, in one transaction.
    pub async fn merge_all(&self, states: &BTreeMap<String, PnCounter>) -> Result<(), StoreError> {
        // TODO(step 3)
        todo!("step 3: Store::merge_all — see README step 3")
    }
}
