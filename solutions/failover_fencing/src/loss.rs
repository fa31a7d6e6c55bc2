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
    // Everything up to the COMMIT: any failure here means nothing was written.
    let prepared = async {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::raw_sql("BEGIN").execute(&mut conn).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO payments (reference, amount) VALUES ($1, $2) RETURNING id",
        )
        .bind(reference)
        .bind(amount)
        .fetch_one(&mut conn)
        .await?;
        Ok::<_, sqlx::Error>((conn, id))
    };
    let (mut conn, id) = match tokio::time::timeout(commit_timeout, prepared).await {
        Ok(Ok(ready)) => ready,
        Ok(Err(e)) => return CommitOutcome::Failed(e.to_string()),
        Err(_) => {
            return CommitOutcome::Failed(format!(
                "{url} did not take the write within {commit_timeout:?}; no COMMIT was sent"
            ));
        }
    };
    // From the moment COMMIT is sent, silence means "maybe".
    match tokio::time::timeout(commit_timeout, sqlx::raw_sql("COMMIT").execute(&mut conn)).await {
        Ok(Ok(_)) => CommitOutcome::Committed(Ack {
            id,
            reference: reference.to_string(),
        }),
        // An error the server sent in answer to COMMIT: a deferred constraint,
        // a serialization failure — the transaction rolled back. But not every
        // error is a rollback: a backend terminated while it waits for its
        // standby sends FATAL 57P01 *after* committing locally.
        Ok(Err(sqlx::Error::Database(e))) if !connection_lost(e.code().as_deref()) => {
            CommitOutcome::Failed(e.to_string())
        }
        Ok(Err(e)) => CommitOutcome::Unknown(format!("COMMIT to {url} lost its answer: {e}")),
        Err(_) => CommitOutcome::Unknown(format!(
            "COMMIT to {url} got no answer within {commit_timeout:?}: it may have committed"
        )),
    }
}

/// Whether a server error means the session ended rather than that the COMMIT
/// was refused: SQLSTATE classes 08 (connection exception), 57 (operator
/// intervention: terminated, shutting down) and 58 (system error).
fn connection_lost(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c.starts_with("58"))
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
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        if let CommitOutcome::Committed(ack) = first {
            return Ok(Settled {
                id: ack.id,
                written_now: false,
            });
        }
        if matches!(first, CommitOutcome::Unknown(_)) {
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT min(id) FROM payments WHERE reference = $1")
                    .bind(reference)
                    .fetch_one(&mut conn)
                    .await?;
            if let Some(id) = existing {
                return Ok(Settled {
                    id,
                    written_now: false,
                });
            }
        }
        let ack = crate::app::write_payment(&mut conn, reference, amount).await?;
        Ok::<_, sqlx::Error>(Settled {
            id: ack.id,
            written_now: true,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FailoverError::timeout("settling a payment", url, timeout))?
        .map_err(FailoverError::from)
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
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        let ids: Vec<i64> = acknowledged.iter().map(|a| a.id).collect();
        let present: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, reference FROM payments WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut conn)
                .await?;
        let present: std::collections::HashSet<(i64, String)> = present.into_iter().collect();
        let missing = acknowledged
            .iter()
            .filter(|a| !present.contains(&(a.id, a.reference.clone())))
            .cloned()
            .collect();
        Ok::<_, sqlx::Error>(Reconciliation {
            checked: acknowledged.len(),
            missing,
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FailoverError::timeout("reconciling acknowledged writes", url, timeout))?
        .map_err(FailoverError::from)
}
