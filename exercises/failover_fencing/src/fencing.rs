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
    // TODO(step 3): promote_with_epoch
    todo!("step 3: promote_with_epoch")
}

/// The epoch the server behind `conn` is at.
pub async fn current_epoch(conn: &mut PgConnection) -> Result<i64, FailoverError> {
    // TODO(step 3): current_epoch
    todo!("step 3: current_epoch")
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
    // TODO(step 3): write_fenced
    todo!("step 3: write_fenced")
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
    // TODO(step 3): fence_old_primary
    todo!("step 3: fence_old_primary")
}
