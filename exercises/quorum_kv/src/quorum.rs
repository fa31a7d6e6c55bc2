// YOURS: the candidate's file. Steps are marked `// TODO(step N)`.
//! N, R, W and the rest of a store's knobs, and what a consistency level means.
//!
//! With `R + W > N` every read quorum overlaps every write quorum in at least
//! one replica, so a read meets the latest acknowledged write (provided the
//! read repairs what it saw before answering; see the coordinator). With
//! `R + W <= N` two quorums can miss each other, and a stale read is reachable:
//! step 1 shows one.

use std::time::Duration;

use crate::error::KvError;
use crate::version::Resolution;

/// What a coordinator does when it cannot reach enough replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Refuse (503, `Retry-After`): consistency over availability.
    Cp,
    /// Accept on a sloppy quorum (stand-in nodes keep hints), answer reads
    /// from whatever replies: availability over consistency.
    Ap,
}

/// A per-request consistency level, as in Cassandra.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    One,
    Quorum,
    All,
}

/// A store's configuration. Every key lives on the same `n` home replicas,
/// nodes `0..n`; nodes from `n` on are stand-ins for the sloppy quorum.
/// (Production hashes each key onto a ring, so each key has its own homes:
/// the Dynamo paper, section 4.2.)
#[derive(Clone, Debug)]
pub struct Config {
    pub n: usize,
    /// Replies a read waits for, unless the request names a consistency.
    pub r: usize,
    /// Acknowledgements a write waits for, unless the request names one.
    pub w: usize,
    pub mode: Mode,
    pub resolution: Resolution,
    /// The whole request's bound: a coordinator answers within it.
    pub timeout: Duration,
    /// One replica call's bound; a stand-in is tried after it (AP).
    pub replica_timeout: Duration,
    /// What a 503 tells the client to wait.
    pub retry_after: Duration,
}

impl Config {
    /// `n` replicas, majority reads and writes, CP, version vectors.
    pub fn new(n: usize) -> Config {
        Config {
            n,
            r: majority(n),
            w: majority(n),
            mode: Mode::Cp,
            resolution: Resolution::Vectors,
            timeout: Duration::from_millis(1500),
            replica_timeout: Duration::from_millis(400),
            retry_after: Duration::from_secs(1),
        }
    }

    /// Refuse a configuration that cannot work on a cluster of `nodes` nodes:
    /// N of at least 1 and at most `nodes`; R and W each from 1 to N; both
    /// timeouts above zero, the replica's no longer than the request's; a
    /// `retry_after` above zero.
    pub fn validate(&self, nodes: usize) -> Result<(), KvError> {
        // TODO(step 1): refuse each impossible setting with KvError::BadConfig saying which.
        todo!("step 1")
    }

    /// Whether every read quorum meets every write quorum: R + W > N.
    pub fn is_strict(&self) -> bool {
        self.r + self.w > self.n
    }
}

/// The smallest number of replicas that any two such groups share one of:
/// more than half of `n`.
pub fn majority(n: usize) -> usize {
    // TODO(step 1): more than half of n.
    todo!("step 1")
}

impl Consistency {
    /// How many replies a request at this level waits for, with `n` replicas.
    pub fn required(self, n: usize) -> usize {
        // TODO(step 4): one: 1; quorum: a majority; all: n.
        todo!("step 4")
    }

    /// `one`, `quorum` or `all`, exactly (lower case); anything else is a
    /// `BadRequest` naming the three.
    pub fn parse(text: &str) -> Result<Consistency, KvError> {
        // TODO(step 4): exactly "one", "quorum" or "all"; anything else is a BadRequest naming the three.
        todo!("step 4")
    }
}
