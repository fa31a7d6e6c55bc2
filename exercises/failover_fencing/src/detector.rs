//! Deciding that the primary is dead: the *detection* phase of a failover.
//!
//! One failed health check proves nothing: a checkpoint, a GC pause, a lost
//! packet or a busy network all look like one. Failing over for it costs a
//! promotion, every client's reconnect and, with asynchronous replication, the
//! writes the standby never got. So the primary is declared dead only after
//! `failures` consecutive failed checks, all within `window`: a success wipes
//! the slate, and failures spread thinly over a long time (a flaky link, not a
//! dead server) never add up.
//!
//! The detector is a pure function of what it observed and when, so the rule
//! is tested exactly, boundaries included, with no server and no clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::FailoverError;

/// How the primary is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectorConfig {
    /// How long one health check may take before it counts as failed.
    pub check_timeout: Duration,
    /// Consecutive failed checks that declare the primary dead (at least 1).
    pub failures: u32,
    /// The failures must all fall within this span, first to last.
    pub window: Duration,
}

impl DetectorConfig {
    /// Refuse a configuration that cannot work: no timeout would wait forever,
    /// zero failures would fail over with no evidence, a zero window could
    /// never hold two failures.
    pub fn validate(&self) -> Result<(), FailoverError> {
        // TODO(step 1): validate
        todo!("step 1: validate")
    }
}

/// What the detector concludes after a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The last check succeeded.
    Healthy,
    /// `failures` consecutive failed checks within the window so far: not yet enough.
    Suspect { failures: u32 },
    /// Enough consecutive failures within the window: fail over.
    Dead,
}

#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    // TODO(step 1): what the detector must remember between checks (one way:
    // when each failure of the current run happened, oldest first).
    failures: VecDeque<Instant>,
}

impl Detector {
    pub fn new(config: DetectorConfig) -> Result<Detector, FailoverError> {
        // TODO(step 1): new
        todo!("step 1: new")
    }

    pub fn config(&self) -> DetectorConfig {
        self.config
    }

    /// Record one check's result, taken at `at`, and say what follows.
    pub fn observe(&mut self, at: Instant, healthy: bool) -> Verdict {
        // TODO(step 1): observe
        todo!("step 1: observe")
    }
}
