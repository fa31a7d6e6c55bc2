//! Step 3: write skew, fixed twice.
//!
//! The rule reads a set (the shift's on-call doctors) and writes one member of
//! it. Snapshot isolation only notices two transactions writing the *same*
//! row, so it has to be told about the set. Two ways:
//!
//! * [`Fix::Serializable`]: Postgres's SSI tracks what each transaction read
//!   (its predicate locks) and aborts one of two transactions whose reads and
//!   writes form a dangerous cycle. Nothing blocks; one of two racing doctors
//!   gets [`RosterError::Conflict`] and, on retry, sees the other gone.
//! * [`Fix::LockRows`]: lock every row the rule reads, `FOR UPDATE`, before
//!   counting. The second doctor's count waits for the first's commit and
//!   then sees one on call. Cheap, works at READ COMMITTED and on any engine,
//!   but only if *every* row the decision depends on is locked (locking just
//!   your own row changes nothing) and only for rows that exist: a rule about
//!   rows that might be inserted needs SERIALIZABLE or a row to lock
//!   ("materialising the conflict", e.g. a row per shift).

use sqlx::PgPool;

use crate::db::DbFailure;
use crate::gate::Gate;
use crate::oncall::{OffCall, RosterError};

/// How [`go_off_call`] keeps the rule under concurrency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    /// Run the check and the write at SERIALIZABLE; a serialization failure
    /// comes back as [`RosterError::Conflict`].
    Serializable,
    /// Lock every row the check reads before deciding, at READ COMMITTED.
    LockRows,
}

/// Take `doctor` off call, unless that would leave the shift with nobody.
pub async fn go_off_call(
    pool: &PgPool,
    fix: Fix,
    doctor: i32,
    gate: &Gate,
) -> Result<OffCall, RosterError> {
    let outcome = match fix {
        Fix::Serializable => serializable(pool, doctor, gate).await,
        Fix::LockRows => lock_rows(pool, doctor, gate).await,
    };
    match outcome {
        Err(RosterError::Db(e)) if DbFailure::of(&e).is_concurrency_abort() => {
            Err(RosterError::Conflict)
        }
        other => other,
    }
}

async fn serializable(pool: &PgPool, doctor: i32, gate: &Gate) -> Result<OffCall, RosterError> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let row: Option<(i32, bool)> =
        sqlx::query_as("SELECT shift, on_call FROM doctors WHERE id = $1")
            .bind(doctor)
            .fetch_optional(&mut *tx)
            .await?;
    let (shift, on) = row.ok_or(RosterError::UnknownDoctor(doctor))?;
    if !on {
        return Ok(OffCall::AlreadyOff);
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM doctors WHERE shift = $1 AND on_call")
            .bind(shift)
            .fetch_one(&mut *tx)
            .await?;
    gate.after_read().await;
    if count < 2 {
        return Err(RosterError::LastOnCall { doctor, shift });
    }
    sqlx::query("UPDATE doctors SET on_call = false WHERE id = $1")
        .bind(doctor)
        .execute(&mut *tx)
        .await?;
    // The conflict may surface here, at COMMIT, rather than at a statement.
    tx.commit().await?;
    Ok(OffCall::WentOff {
        still_on_call: count - 1,
    })
}

async fn lock_rows(pool: &PgPool, doctor: i32, gate: &Gate) -> Result<OffCall, RosterError> {
    let mut tx = pool.begin().await?;
    let row: Option<(i32, bool)> =
        sqlx::query_as("SELECT shift, on_call FROM doctors WHERE id = $1")
            .bind(doctor)
            .fetch_optional(&mut *tx)
            .await?;
    let (shift, _) = row.ok_or(RosterError::UnknownDoctor(doctor))?;
    // Lock the whole set the rule reads, in a fixed order (by id) so two
    // doctors never lock it in opposite orders and deadlock. At READ
    // COMMITTED, a row we waited for is re-read as its locker committed it,
    // so a doctor who just went off call drops out of the set.
    let on_call: Vec<i32> = sqlx::query_scalar(
        "SELECT id FROM doctors WHERE shift = $1 AND on_call ORDER BY id FOR UPDATE",
    )
    .bind(shift)
    .fetch_all(&mut *tx)
    .await?;
    gate.after_read().await;
    if !on_call.contains(&doctor) {
        return Ok(OffCall::AlreadyOff);
    }
    if on_call.len() < 2 {
        return Err(RosterError::LastOnCall { doctor, shift });
    }
    sqlx::query("UPDATE doctors SET on_call = false WHERE id = $1")
        .bind(doctor)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(OffCall::WentOff {
        still_on_call: on_call.len() as i64 - 1,
    })
}
