// PROVIDED: read it, do not change it.
//! One replica's durable state, in its own Postgres database (`sql/schema.sql`).
//!
//! A replica acknowledges a write only after the transaction that stored it has
//! committed, so a node killed and started again holds what it acknowledged.

use sqlx::PgPool;
use sqlx::types::Json;

use crate::error::KvError;
use crate::version::{Resolution, Version, reconcile};

/// The schema, commented, as each node applies it at start.
pub const SCHEMA: &str = include_str!("../sql/schema.sql");

/// A hint this node holds for a replica it could not reach.
#[derive(Clone, Debug)]
pub struct Hint {
    pub id: i64,
    pub target: usize,
    pub key: String,
    pub versions: Vec<Version>,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Apply the schema (idempotent) and wrap the pool.
    pub async fn open(pool: PgPool) -> Result<Store, KvError> {
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Store { pool })
    }

    /// The versions this replica holds for `key` (empty: it has none).
    pub async fn load(&self, key: &str) -> Result<Vec<Version>, KvError> {
        let row: Option<(Json<Vec<Version>>,)> =
            sqlx::query_as("SELECT siblings FROM kv WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(Json(v),)| v).unwrap_or_default())
    }

    /// Merge `incoming` into what the replica holds for `key`, with
    /// [`reconcile`] deciding what survives, and return the result.
    ///
    /// The row is locked for the read-reconcile-write, so two merges of the
    /// same key never lose each other's versions.
    pub async fn merge(
        &self,
        key: &str,
        incoming: Vec<Version>,
        resolution: Resolution,
    ) -> Result<Vec<Version>, KvError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO kv (key, siblings) VALUES ($1, '[]') ON CONFLICT DO NOTHING")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        let (Json(mut held),): (Json<Vec<Version>>,) =
            sqlx::query_as("SELECT siblings FROM kv WHERE key = $1 FOR UPDATE")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
        held.extend(incoming);
        let kept = reconcile(held, resolution);
        sqlx::query("UPDATE kv SET siblings = $2 WHERE key = $1")
            .bind(key)
            .bind(Json(&kept))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(kept)
    }

    /// Keep `versions` of `key` for replica `target`, to hand over later.
    pub async fn add_hint(
        &self,
        target: usize,
        key: &str,
        versions: Vec<Version>,
    ) -> Result<(), KvError> {
        let target = i32::try_from(target)
            .map_err(|_| KvError::BadRequest(format!("no replica {target}")))?;
        sqlx::query("INSERT INTO hints (target, key, siblings) VALUES ($1, $2, $3)")
            .bind(target)
            .bind(key)
            .bind(Json(versions))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every hint this node holds, oldest first.
    pub async fn hints(&self) -> Result<Vec<Hint>, KvError> {
        let rows: Vec<(i64, i32, String, Json<Vec<Version>>)> =
            sqlx::query_as("SELECT id, target, key, siblings FROM hints ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, target, key, Json(versions))| Hint {
                id,
                target: target as usize,
                key,
                versions,
            })
            .collect())
    }

    /// Forget a hint: call this only once its target has acknowledged it.
    pub async fn remove_hint(&self, id: i64) -> Result<(), KvError> {
        sqlx::query("DELETE FROM hints WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
