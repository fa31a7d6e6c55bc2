// PROVIDED: the on-call roster's types, and the version that breaks the rule
// (step 3). You do not need to change this file; your fixes go in roster.rs.

//! "At least one doctor of each shift stays on call."
//!
//! [`naive_go_off_call`] checks the rule and then takes the doctor off call,
//! at REPEATABLE READ. Run alone it is right. Run twice at once, for the two
//! last doctors of a shift, each transaction sees two on call in its snapshot,
//! each takes *its own* doctor off (different rows, so no write conflict), and
//! both commit: nobody is on call. That is write skew, and REPEATABLE READ
//! (snapshot isolation) allows it on every engine.

use sqlx::PgPool;

use crate::gate::Gate;

/// What going off call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffCall {
    /// The doctor is off call; this many of the shift remain on call.
    WentOff { still_on_call: i64 },
    /// The doctor was already off call; nothing changed.
    AlreadyOff,
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The doctor is the last of the shift on call; nothing changed.
    #[error("doctor {doctor} is the last one on call for shift {shift}")]
    LastOnCall { doctor: i32, shift: i32 },
    #[error("there is no doctor {0}")]
    UnknownDoctor(i32),
    /// The engine aborted the transaction to keep SERIALIZABLE's promise;
    /// nothing changed, and trying again is safe.
    #[error("a concurrent change conflicted; nothing changed, try again")]
    Conflict,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Put `doctors` on call for `shift` (rows `id`, all on call).
pub async fn add_shift(pool: &PgPool, shift: i32, doctors: &[i32]) -> Result<(), sqlx::Error> {
    for id in doctors {
        sqlx::query("INSERT INTO doctors (id, shift, on_call) VALUES ($1, $2, true)")
            .bind(id)
            .bind(shift)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Put a doctor back on call. Adding cover can never break the rule, so this
/// needs no care.
pub async fn go_on_call(pool: &PgPool, doctor: i32) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE doctors SET on_call = true WHERE id = $1")
        .bind(doctor)
        .execute(pool)
        .await
        .map(drop)
}

/// How many of `shift` are on call now.
pub async fn on_call(pool: &PgPool, shift: i32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM doctors WHERE shift = $1 AND on_call")
        .bind(shift)
        .fetch_one(pool)
        .await
}

/// The bug: check, then write, at REPEATABLE READ.
pub async fn naive_go_off_call(
    pool: &PgPool,
    doctor: i32,
    gate: &Gate,
) -> Result<OffCall, RosterError> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
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
    tx.commit().await?;
    Ok(OffCall::WentOff {
        still_on_call: count - 1,
    })
}
