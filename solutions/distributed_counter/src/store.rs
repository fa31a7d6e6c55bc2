//! Step 2 — a node's counters, durable in its own Postgres database.
//!
//! ## The guarantee
//! An increment is acknowledged only after the transaction that records it has
//! committed, so killing the node at any moment loses nothing acknowledged: the
//! restarted node reads the same slots back. `synchronous_commit` stays on
//! (Postgres's default): turned off, a commit returns before its WAL is on
//! disk, and a crash of Postgres itself would lose acknowledged increments. The request id is recorded in the
//! same transaction, so a retry of an acknowledged increment finds it and
//! changes nothing — and an increment whose commit failed was not recorded
//! either, so its retry applies it.
//!
//! Merging a peer's state is an upsert that keeps the larger value per slot
//! (`GREATEST`): the database does the CRDT merge, atomically, per row.

use std::collections::BTreeMap;

use sqlx::{PgPool, Row};

use crate::crdt::PnCounter;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The increment would overflow a slot (bigint): nothing was written.
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

    /// Apply `delta` to `replica`'s own slot, once per `request_id`, and return
    /// the counter's state afterwards (a retry returns the current state).
    pub async fn increment(
        &self,
        counter: &str,
        replica: &str,
        delta: i64,
        request_id: &str,
    ) -> Result<PnCounter, StoreError> {
        let mut tx = self.pool.begin().await?;
        let first_time = sqlx::query(
            "INSERT INTO applied_requests (counter, request_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(counter)
        .bind(request_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if first_time {
            let (incs, decs) = if delta > 0 {
                (delta, 0)
            } else {
                (0, delta.checked_neg().ok_or(StoreError::Overflow)?)
            };
            let written = sqlx::query(
                "INSERT INTO counter_slots (counter, replica, incs, decs) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (counter, replica)
                 DO UPDATE SET incs = counter_slots.incs + EXCLUDED.incs, decs = counter_slots.decs + EXCLUDED.decs",
            )
            .bind(counter)
            .bind(replica)
            .bind(incs)
            .bind(decs)
            .execute(&mut *tx)
            .await;
            match written {
                Ok(_) => {}
                // numeric_value_out_of_range: a bigint slot would overflow.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("22003") => {
                    return Err(StoreError::Overflow);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let state = load_in(&mut tx, counter).await?;
        if i64::checked_sub(total(&state.p)?, total(&state.n)?).is_none() {
            return Err(StoreError::Overflow);
        }
        tx.commit().await?;
        Ok(state)
    }

    /// The counter's state, or `None` if this node has never heard of it.
    pub async fn load(&self, counter: &str) -> Result<Option<PnCounter>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let state = load_in(&mut conn, counter).await?;
        Ok((!state.p.is_empty() || !state.n.is_empty()).then_some(state))
    }

    /// Every counter this node knows: what it sends a peer in a gossip round.
    pub async fn all(&self) -> Result<BTreeMap<String, PnCounter>, StoreError> {
        let rows = sqlx::query("SELECT counter, replica, incs, decs FROM counter_slots")
            .fetch_all(&self.pool)
            .await?;
        let mut all: BTreeMap<String, PnCounter> = BTreeMap::new();
        for row in rows {
            let state = all.entry(row.get("counter")).or_default();
            put(state, row.get("replica"), row.get("incs"), row.get("decs"));
        }
        Ok(all)
    }

    /// Merge states received from a peer, in one transaction.
    pub async fn merge_all(&self, states: &BTreeMap<String, PnCounter>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (counter, state) in states {
            let replicas: std::collections::BTreeSet<&String> =
                state.p.keys().chain(state.n.keys()).collect();
            for replica in replicas {
                let incs = i64::try_from(state.p.get(replica).copied().unwrap_or(0))
                    .map_err(|_| StoreError::Overflow)?;
                let decs = i64::try_from(state.n.get(replica).copied().unwrap_or(0))
                    .map_err(|_| StoreError::Overflow)?;
                sqlx::query(
                    "INSERT INTO counter_slots (counter, replica, incs, decs) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (counter, replica)
                     DO UPDATE SET incs = GREATEST(counter_slots.incs, EXCLUDED.incs),
                                   decs = GREATEST(counter_slots.decs, EXCLUDED.decs)",
                )
                .bind(counter)
                .bind(replica)
                .bind(incs)
                .bind(decs)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn load_in(conn: &mut sqlx::PgConnection, counter: &str) -> Result<PnCounter, StoreError> {
    let rows = sqlx::query("SELECT replica, incs, decs FROM counter_slots WHERE counter = $1")
        .bind(counter)
        .fetch_all(&mut *conn)
        .await?;
    let mut state = PnCounter::default();
    for row in rows {
        put(
            &mut state,
            row.get("replica"),
            row.get("incs"),
            row.get("decs"),
        );
    }
    Ok(state)
}

fn put(state: &mut PnCounter, replica: String, incs: i64, decs: i64) {
    if incs > 0 {
        state.p.insert(replica.clone(), incs.unsigned_abs());
    }
    if decs > 0 {
        state.n.insert(replica, decs.unsigned_abs());
    }
}

fn total(slots: &BTreeMap<String, u64>) -> Result<i64, StoreError> {
    slots
        .values()
        .try_fold(0i64, |sum, v| sum.checked_add(i64::try_from(*v).ok()?))
        .ok_or(StoreError::Overflow)
}
