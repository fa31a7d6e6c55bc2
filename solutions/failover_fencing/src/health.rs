//! One health check, bounded. A stalled primary (a frozen process, a black-hole
//! network) accepts the TCP connection and then says nothing; without a bound
//! the check waits as long as the kernel does, and the failover never starts.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::error::FailoverError;

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// It answered and takes writes.
    Primary,
    /// It answered and is in recovery (a standby).
    Standby,
    /// No answer within the bound, or an error; the reason says which.
    Down(String),
}

/// Connect and ask `pg_is_in_recovery()`, all within `timeout`: the connection
/// attempt and the query share one bound, since a server can stall in either.
pub async fn check(url: &str, timeout: Duration) -> Health {
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut conn)
            .await?;
        // Closing politely is not worth waiting for on a sick server.
        drop(conn);
        Ok::<bool, sqlx::Error>(in_recovery)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(false)) => Health::Primary,
        Ok(Ok(true)) => Health::Standby,
        Ok(Err(e)) => Health::Down(format!("{url}: {e}")),
        Err(_) => Health::Down(FailoverError::timeout("a health check", url, timeout).to_string()),
    }
}
