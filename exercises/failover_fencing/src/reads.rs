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
    // TODO(step 4): write_with_token
    todo!("step 4: write_with_token")
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
    // TODO(step 4): read_after_write
    todo!("step 4: read_after_write")
}
