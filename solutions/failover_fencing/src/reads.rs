//! Read your own writes while reads go to a standby.
//!
//! A standby serves reads to take load off the primary, but it is behind by
//! however much WAL it has not replayed yet: a client that just wrote and then
//! reads from it can see the world before its own write. The fix carries the
//! write's position as a session token: after each write the client keeps the
//! primary's WAL insert position, and a read goes to the standby only once the
//! standby has replayed at least that far — waiting a bounded time for it, and
//! reading from the primary when the standby lags past the bound.
//!
//! After a failover the same token still works: a promoted standby has replayed
//! everything it will ever serve, and a token beyond it (a write it never got)
//! sends the read to the primary, which is the one place that can answer.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::app::{Ack, Payment};
use crate::error::FailoverError;
use crate::lsn::Lsn;

/// Write a payment on the primary and return, with the ack, the position a
/// later read must see: the WAL insert position just after the COMMIT, at or
/// past the commit record.
pub async fn write_with_token(
    conn: &mut PgConnection,
    reference: &str,
    amount: i64,
) -> Result<(Ack, Lsn), FailoverError> {
    let ack = crate::app::write_payment(conn, reference, amount).await?;
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(conn)
        .await?;
    Ok((ack, lsn.parse()?))
}

/// How long a read may wait for the standby to catch up, and how often it looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadPolicy {
    pub max_wait: Duration,
    pub poll: Duration,
}

/// Where a read was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    Standby,
    Primary,
}

/// How long one round trip may take beyond the wait itself.
const ROUND_TRIP: Duration = Duration::from_secs(2);

/// Read payment `id`, from the standby if it has replayed up to `token` within
/// `policy.max_wait`, else from the primary. A standby that is down, stalls or
/// fails is treated as one that lags: the primary answers.
pub async fn read_after_write(
    standby_url: &str,
    primary_url: &str,
    token: Lsn,
    id: i64,
    policy: ReadPolicy,
) -> Result<(Option<Payment>, ReadFrom), FailoverError> {
    let standby = from_standby(standby_url, token, id, policy);
    // The whole standby attempt, its final read included, is bounded.
    if let Ok(Ok(Some(payment))) = tokio::time::timeout(policy.max_wait + ROUND_TRIP, standby).await
    {
        return Ok((payment, ReadFrom::Standby));
    }
    let read = async {
        let mut primary = PgConnection::connect(primary_url).await?;
        crate::app::read_payment(&mut primary, id).await
    };
    let payment = tokio::time::timeout(ROUND_TRIP * 2, read)
        .await
        .map_err(|_| FailoverError::timeout("a read", primary_url, ROUND_TRIP * 2))??;
    Ok((payment, ReadFrom::Primary))
}

/// `Some(the read)` once the standby has replayed `token`; `None` if it has not
/// by `policy.max_wait`.
async fn from_standby(
    url: &str,
    token: Lsn,
    id: i64,
    policy: ReadPolicy,
) -> Result<Option<Option<Payment>>, FailoverError> {
    let deadline = tokio::time::Instant::now() + policy.max_wait;
    let mut standby = PgConnection::connect(url).await?;
    loop {
        let replayed: Option<String> = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn()::text")
            .fetch_one(&mut standby)
            .await?;
        let replayed: Option<Lsn> = replayed.map(|t| t.parse()).transpose()?;
        // At the token is enough: the token is the end of what the write put
        // in the WAL, and replay positions are ends of records too.
        if replayed.is_some_and(|r| r >= token) {
            return Ok(Some(crate::app::read_payment(&mut standby, id).await?));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(policy.poll.min(deadline - now)).await;
    }
}
