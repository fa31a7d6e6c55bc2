//! Step 5 — the other side of CAP: one row, one database, linearizable.
//!
//! Every node reads and changes the same row with single atomic statements, so
//! every operation appears to happen at one instant between its request and its
//! response, in one global order: a read after an acknowledged increment, at any
//! node, sees it. The price is availability and latency: a node that cannot
//! reach the shared database within its timeout answers 503 rather than guess,
//! and every operation pays a round trip to that database (in another region,
//! tens of milliseconds). In PACELC terms: PC/EC — under a partition it chooses
//! consistency, and otherwise it pays latency for it.

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
        let mut tx = self.pool.begin().await?;
        let first_time = sqlx::query(
            "INSERT INTO shared_applied_requests (counter, request_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(counter)
        .bind(request_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let value: i64 = if first_time {
            let updated = sqlx::query_scalar(
                "INSERT INTO shared_counters (counter, value) VALUES ($1, $2)
                 ON CONFLICT (counter) DO UPDATE SET value = shared_counters.value + EXCLUDED.value
                 RETURNING value",
            )
            .bind(counter)
            .bind(delta)
            .fetch_one(&mut *tx)
            .await;
            match updated {
                Ok(value) => value,
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("22003") => {
                    return Err(StoreError::Overflow);
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            sqlx::query_scalar("SELECT value FROM shared_counters WHERE counter = $1")
                .bind(counter)
                .fetch_one(&mut *tx)
                .await?
        };
        tx.commit().await?;
        Ok(value)
    }

    pub async fn get(&self, counter: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM shared_counters WHERE counter = $1")
                .bind(counter)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
