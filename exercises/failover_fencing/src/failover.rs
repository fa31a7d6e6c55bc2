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
        // TODO(step 1): new
        todo!("step 1: new")
    }

    /// One check, then the detector's verdict. A server that answers but is in
    /// recovery is not a healthy *primary*: it counts as a failure.
    pub async fn check_once(&mut self) -> Verdict {
        // TODO(step 1): check_once
        todo!("step 1: check_once")
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
    // TODO(step 1): most_advanced
    todo!("step 1: most_advanced")
}

/// Promote the standby at `url` and wait, within `timeout`, until it takes
/// writes. `pg_promote(wait => true)` returns once recovery has ended.
pub async fn promote(url: &str, timeout: Duration) -> Result<(), FailoverError> {
    // TODO(step 1): promote
    todo!("step 1: promote")
}

/// Promote the most advanced standby and publish it as the primary.
pub async fn failover(
    standbys: &[String],
    timeout: Duration,
    directory: &Directory,
) -> Result<Promoted, FailoverError> {
    // TODO(step 1): failover
    todo!("step 1: failover")
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
    // TODO(step 1): watch_and_failover
    todo!("step 1: watch_and_failover")
}

/// A connection to whichever of `candidates` is a primary (the directory's
/// entry first, then the others), each tried within `timeout`.
pub async fn connect_primary(
    candidates: &[String],
    timeout: Duration,
) -> Result<(String, PgConnection), FailoverError> {
    // TODO(step 1): connect_primary
    todo!("step 1: connect_primary")
}
