//! The failover controller: detect, promote, re-route — three phases, each of
//! which can go wrong on its own.
//!
//! * **Detect** ([`Monitor`]): bounded health checks fed to the [`Detector`].
//! * **Promote** ([`most_advanced`], [`promote`]): the standby that has
//!   *replayed* the most WAL loses the fewest acknowledged writes. Received but
//!   not replayed WAL would still be applied before promotion completes, but a
//!   standby that lags on receive has simply not got it. Replay is what the
//!   standby can report cheaply and what it will serve once promoted.
//! * **Re-route** ([`Directory::publish`], [`connect_primary`]): clients find
//!   the primary by asking each candidate `pg_is_in_recovery()`, so a stale
//!   directory entry costs a retry, never a write to a standby.
//!
//! Production does more: a quorum of observers in several places (one observer
//! cannot tell "the primary is down" from "I am cut off"), a lease or STONITH
//! before promoting (step 3 fences instead), and a cooldown against flapping.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::detector::{Detector, DetectorConfig, Verdict};
use crate::directory::Directory;
use crate::error::FailoverError;
use crate::health::{self, Health};
use crate::lsn::Lsn;

/// Watches one primary with bounded checks.
#[derive(Debug)]
pub struct Monitor {
    url: String,
    detector: Detector,
}

impl Monitor {
    pub fn new(url: impl Into<String>, config: DetectorConfig) -> Result<Monitor, FailoverError> {
        Ok(Monitor {
            url: url.into(),
            detector: Detector::new(config)?,
        })
    }

    /// One check, then the detector's verdict. A server that answers but is in
    /// recovery is not a healthy *primary*: it counts as a failure.
    pub async fn check_once(&mut self) -> Verdict {
        let timeout = self.detector.config().check_timeout;
        let healthy = health::check(&self.url, timeout).await == Health::Primary;
        self.detector.observe(Instant::now(), healthy)
    }
}

/// The standby that was promoted, and the position it had replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promoted {
    pub url: String,
    pub replayed: Lsn,
}

/// Of `standbys`, the one in recovery that has replayed the most WAL (the first
/// listed on a tie). Each is asked within `timeout`; one that does not answer,
/// or is not in recovery, is skipped rather than waited on.
pub async fn most_advanced(
    standbys: &[String],
    timeout: Duration,
) -> Result<(String, Lsn), FailoverError> {
    let mut best: Option<(String, Lsn)> = None;
    for url in standbys {
        let Ok(Some(replayed)) = replayed_lsn(url, timeout).await else {
            continue;
        };
        // Strictly greater: on a tie the earlier one stays.
        if best.as_ref().is_none_or(|(_, b)| replayed > *b) {
            best = Some((url.clone(), replayed));
        }
    }
    best.ok_or_else(|| FailoverError::NoStandby {
        tried: standbys.to_vec(),
    })
}

/// `pg_last_wal_replay_lsn()` of a server in recovery; `None` if it is not one.
async fn replayed_lsn(url: &str, timeout: Duration) -> Result<Option<Lsn>, FailoverError> {
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::query_as::<_, (bool, Option<String>)>(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text",
        )
        .fetch_one(&mut conn)
        .await
    };
    let (in_recovery, replayed) = tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| FailoverError::timeout("the replay position", url, timeout))??;
    match (in_recovery, replayed) {
        (true, Some(text)) => Ok(Some(text.parse()?)),
        _ => Ok(None),
    }
}

/// Promote the standby at `url` and wait, within `timeout`, until it takes
/// writes. `pg_promote(wait => true)` returns once recovery has ended.
pub async fn promote(url: &str, timeout: Duration) -> Result<(), FailoverError> {
    let attempt = async {
        let mut conn = PgConnection::connect(url).await?;
        let seconds = timeout.as_secs().max(1) as i32;
        let done: bool = sqlx::query_scalar("SELECT pg_promote(true, $1)")
            .bind(seconds)
            .fetch_one(&mut conn)
            .await?;
        let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut conn)
            .await?;
        Ok::<bool, sqlx::Error>(done && !in_recovery)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(FailoverError::timeout("promotion", url, timeout)),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(FailoverError::timeout("promotion", url, timeout)),
    }
}

/// Promote the most advanced standby and publish it as the primary.
pub async fn failover(
    standbys: &[String],
    timeout: Duration,
    directory: &Directory,
) -> Result<Promoted, FailoverError> {
    let (url, replayed) = most_advanced(standbys, timeout).await?;
    promote(&url, timeout).await?;
    // Publish only after the promotion succeeded: clients sent to a standby
    // that is still in recovery would fail every write.
    directory.publish(url.clone());
    Ok(Promoted { url, replayed })
}

/// Check the primary every `interval` until the detector declares it dead, then
/// fail over, each standby call bounded by `timeout` (a promotion takes longer
/// than a health check: it is not bounded by the check's timeout). Gives up
/// (returns `None`, nothing promoted) after exactly `max_checks` checks.
pub async fn watch_and_failover(
    monitor: &mut Monitor,
    standbys: &[String],
    directory: &Directory,
    interval: Duration,
    max_checks: u32,
    timeout: Duration,
) -> Result<Option<Promoted>, FailoverError> {
    for _ in 0..max_checks {
        if monitor.check_once().await == Verdict::Dead {
            return failover(standbys, timeout, directory).await.map(Some);
        }
        tokio::time::sleep(interval).await;
    }
    Ok(None)
}

/// A connection to whichever of `candidates` is a primary (the directory's
/// entry first, then the others), each tried within `timeout`.
pub async fn connect_primary(
    candidates: &[String],
    timeout: Duration,
) -> Result<(String, PgConnection), FailoverError> {
    for url in candidates {
        let attempt = async {
            let mut conn = PgConnection::connect(url).await?;
            let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                .fetch_one(&mut conn)
                .await?;
            Ok::<_, sqlx::Error>((in_recovery, conn))
        };
        if let Ok(Ok((false, conn))) = tokio::time::timeout(timeout, attempt).await {
            return Ok((url.clone(), conn));
        }
    }
    Err(FailoverError::NoPrimary {
        tried: candidates.to_vec(),
    })
}
