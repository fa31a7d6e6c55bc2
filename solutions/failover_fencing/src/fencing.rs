//! Fencing: making sure only one primary's writes are ever accepted.
//!
//! A primary that froze (a long GC-like pause, a VM migration, a partition)
//! does not know it was replaced. When it wakes, it still takes writes, and
//! clients that never re-resolved still send them. Two defences, both needed:
//!
//! 1. **A fencing epoch checked by the write itself.** Every promotion bumps
//!    `fencing.epoch` on the new primary; every write carries the epoch its
//!    client learned and succeeds only if it is *equal* to the database's, in
//!    the same statement that writes, under a share lock on the epoch row, so
//!    a promotion that bumps it concurrently is waited for, not raced. A
//!    client-side check ("read the epoch, then write") is a race with exactly
//!    that promotion. Equal, not "at least": a token *newer* than the row means
//!    the write reached a server that missed the promotion.
//! 2. **The old primary told it was fenced.** Writes that carry no epoch (an
//!    old client, a migration script) would sail through on the thawed old
//!    primary. So as soon as it is reachable, the controller raises its epoch,
//!    makes it read-only, and ends every other session on it.
//!
//! Production does more: STONITH (power the old node off), a lease the primary
//! must renew to take writes, and fencing of the storage or network path.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::app::Ack;
use crate::error::FailoverError;

/// Promote the standby at `url` and bump its fencing epoch; returns the new
/// epoch, the one every client must carry from now on.
pub async fn promote_with_epoch(url: &str, timeout: Duration) -> Result<i64, FailoverError> {
    crate::failover::promote(url, timeout).await?;
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::query_scalar("UPDATE fencing SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch")
            .fetch_one(&mut conn)
            .await
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FailoverError::timeout("bumping the fencing epoch", url, timeout))?
        .map_err(FailoverError::from)
}

/// The epoch the server behind `conn` is at.
pub async fn current_epoch(conn: &mut PgConnection) -> Result<i64, FailoverError> {
    Ok(sqlx::query_scalar("SELECT epoch FROM fencing WHERE id = 1")
        .fetch_one(conn)
        .await?)
}

/// Write a payment only if `epoch` is the database's epoch. One statement: the
/// CTE takes a share lock on the epoch row (so a concurrent bump is waited for,
/// and then seen) and the INSERT happens only if the epochs are equal.
pub async fn write_fenced(
    conn: &mut PgConnection,
    epoch: i64,
    reference: &str,
    amount: i64,
) -> Result<Ack, FailoverError> {
    let id: Option<i64> = sqlx::query_scalar(
        "WITH f AS (SELECT epoch FROM fencing WHERE id = 1 FOR SHARE) \
         INSERT INTO payments (reference, amount, epoch) \
         SELECT $2, $3, $1 FROM f WHERE f.epoch = $1 \
         RETURNING id",
    )
    .bind(epoch)
    .bind(reference)
    .bind(amount)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok(Ack {
            id,
            reference: reference.to_string(),
        }),
        None => Err(FailoverError::Fenced {
            carried: epoch,
            current: current_epoch(conn).await?,
        }),
    }
}

/// What fencing the old primary did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FencedOld {
    /// Its epoch now (at least the new primary's).
    pub epoch: i64,
    /// Sessions ended (the stale clients among them).
    pub sessions_ended: i64,
}

/// Tell the old primary at `url` that it was replaced by a primary at `epoch`:
/// raise its epoch (so even a token-carrying write fails), make it refuse every
/// write from now on (`default_transaction_read_only`, reloaded, so sessions
/// already open get it at their next transaction), then end every other
/// session, so no client keeps a transaction open on it. Fencing again is
/// harmless: a retry, even one carrying an older epoch, never lowers it.
pub async fn fence_old_primary(
    url: &str,
    epoch: i64,
    timeout: Duration,
) -> Result<FencedOld, FailoverError> {
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        // A second fencing (a controller's retry) finds the server read-only
        // already; this session alone may still raise the epoch.
        sqlx::raw_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
            .execute(&mut conn)
            .await?;
        let raised: i64 = sqlx::query_scalar(
            "UPDATE fencing SET epoch = greatest(epoch, $1) WHERE id = 1 RETURNING epoch",
        )
        .bind(epoch)
        .fetch_one(&mut conn)
        .await?;
        // ALTER SYSTEM cannot run inside a transaction block: one statement each.
        sqlx::raw_sql("ALTER SYSTEM SET default_transaction_read_only = on")
            .execute(&mut conn)
            .await?;
        sqlx::raw_sql("SELECT pg_reload_conf()")
            .execute(&mut conn)
            .await?;
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut conn)
        .await?;
        Ok::<_, sqlx::Error>(FencedOld {
            epoch: raised,
            sessions_ended: ended,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FailoverError::timeout("fencing the old primary", url, timeout))?
        .map_err(FailoverError::from)
}
