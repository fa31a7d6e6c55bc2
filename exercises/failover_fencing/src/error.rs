// PROVIDED: read it, do not change it.
//! The crate's one error type. Every variant names what was being done and
//! where, so a failing test (or an on-call engineer) knows which server to look at.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    /// A server did not answer within the bound. Never waiting forever is the
    /// whole point: a stalled server looks exactly like a slow one.
    #[error("{what} at {url} did not answer within {limit:?}")]
    Timeout {
        what: String,
        url: String,
        limit: Duration,
    },
    /// None of the candidates is a primary that answers.
    #[error("no primary among {tried:?}")]
    NoPrimary { tried: Vec<String> },
    /// None of the standbys answered as a standby, so nothing was promoted.
    #[error("no standby to promote among {tried:?}")]
    NoStandby { tried: Vec<String> },
    /// The write carried fencing epoch `carried`; the database it reached is at
    /// `current`. Nothing was written.
    #[error("fenced: the write carried epoch {carried}, the database is at epoch {current}")]
    Fenced { carried: i64, current: i64 },
    /// A configuration that cannot work (zero failures, zero window, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Text that is not an LSN (`16/B374D848`: two hex numbers of at most 32 bits).
    #[error("not an LSN: {0:?}")]
    BadLsn(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl FailoverError {
    /// A timeout error for `what` at `url`.
    pub fn timeout(what: impl Into<String>, url: &str, limit: Duration) -> FailoverError {
        FailoverError::Timeout {
            what: what.into(),
            url: url.to_string(),
            limit,
        }
    }
}
