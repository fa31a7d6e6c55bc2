//! Step 5 — one row in one shared database, changed by single atomic
//! statements: linearizable, and unavailable to a node that cannot reach it.
//! Tables `shared_counters` and `shared_applied_requests` (see `migrations/`).

use sqlx::PgPool;

use crate::store::StoreError;

#[derive(Clone, Debug)]
pub struct SharedStore {
    pool: PgPool,
}

impl SharedStore {
    pub fn new(pool: PgPool) -> SharedStore {
        SharedStore { pool }
    }

    /// Add `delta` once per `request_id`; return the value afterwards.
    pub async fn increment(
        &self,
        counter: &str,
        delta: i64,
        request_id: &str,
    ) -> Result<i64, StoreError> {
        // TODO(step 5)
        todo!("step 5: SharedStore::increment — see README step 5")
    }

    pub async fn get(&self, counter: &str) -> Result<Option<i64>, StoreError> {
        // TODO(step 5)
        todo!("step 5: SharedStore::get — see README step 5")
    }
}
