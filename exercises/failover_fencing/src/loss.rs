//! What replication loses, and the write whose outcome nobody knows.
//!
//! With asynchronous replication a COMMIT returns once the primary has it; the
//! standby gets it later, or never if the primary dies first. Those writes were
//! *acknowledged* and are gone after a failover, and nothing tells anyone:
//! [`reconcile`] compares what clients were told against what the new primary
//! holds.
//!
//! With synchronous replication the COMMIT waits for the standby (at the level
//! `synchronous_commit` names), so an acknowledged write survives the primary.
//! But the wait can end without an answer: the client's timeout fires, the
//! connection drops, an operator cancels it. By then the transaction *has*
//! committed on the primary (the commit record is written before the wait
//! starts); it may or may not reach the standby. That outcome is **unknown**,
//! not failed: retrying it blindly is how a payment is taken twice. [`settle`]
//! looks before it writes again.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::app::Ack;
use crate::error::FailoverError;

/// What the client can honestly say about one write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The COMMIT returned: the write is acknowledged.
    Committed(Ack),
    /// The server refused it before any COMMIT was sent: nothing was written.
    Failed(String),
    /// The COMMIT was sent and no answer came back (timeout or lost
    /// connection): it may have committed.
    Unknown(String),
}

/// Write one payment in an explicit transaction, bounding the COMMIT by
/// `commit_timeout`. The connection is opened for this write and dropped after
/// it: one whose COMMIT was abandoned cannot be reused.
pub async fn write_once(
    url: &str,
    reference: &str,
    amount: i64,
    commit_timeout: Duration,
) -> CommitOutcome {
    // TODO(step 2): write_once
    todo!("step 2: write_once")
}

/// How a write was finally settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// The payment's id on the server that has it.
    pub id: i64,
    /// Whether settling wrote it (false: an earlier attempt had committed).
    pub written_now: bool,
}

/// Make sure the payment `reference` exists exactly once on the primary at
/// `url`, given what the first attempt said. An unknown outcome is resolved by
/// looking first: only if no payment with this reference exists is it written
/// again. (Waiting out the original transaction is the caller's part: a COMMIT
/// still waiting for its standby is not visible yet.)
pub async fn settle(
    url: &str,
    reference: &str,
    amount: i64,
    first: &CommitOutcome,
    timeout: Duration,
) -> Result<Settled, FailoverError> {
    // TODO(step 2): settle
    todo!("step 2: settle")
}

/// What a failover lost of what clients were told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciliation {
    /// How many acknowledged writes were checked.
    pub checked: usize,
    /// The acknowledged writes the new primary does not have, in the order given.
    pub missing: Vec<Ack>,
}

/// Check every acknowledged write against the server at `url`. A write is there
/// only if a row has its id *and* its reference: after a lossy failover the
/// sequence can hand a lost id to a new payment (step 5), and an id alone would
/// then vouch for a payment that is gone.
pub async fn reconcile(
    acknowledged: &[Ack],
    url: &str,
    timeout: Duration,
) -> Result<Reconciliation, FailoverError> {
    // TODO(step 2): reconcile
    todo!("step 2: reconcile")
}
