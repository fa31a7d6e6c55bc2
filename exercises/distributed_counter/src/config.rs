// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! How a node is configured.

use std::time::Duration;

/// Which consistency a node offers (see the README's PACELC table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each node keeps its own PN-counter in its own database and replicates by
    /// anti-entropy: always available, eventually consistent.
    Crdt,
    /// All nodes change one row in one shared database: linearizable, and
    /// unavailable (503) to a node cut off from that database.
    Linearizable,
}

#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This replica's id, e.g. "n1".
    pub replica: String,
    /// Base URLs of the other nodes, e.g. "http://127.0.0.1:7002".
    pub peers: Vec<String>,
    /// Run an anti-entropy round this often; `None` means only on demand
    /// (`POST /admin/sync`), which is how the tests count rounds.
    pub gossip_interval: Option<Duration>,
    /// Bound on every database call and every call to a peer. A node that
    /// cannot reach its store within it answers 503.
    pub timeout: Duration,
    pub mode: Mode,
}

impl NodeConfig {
    pub fn new(replica: impl Into<String>, peers: Vec<String>) -> NodeConfig {
        NodeConfig {
            replica: replica.into(),
            peers,
            gossip_interval: Some(Duration::from_secs(1)),
            timeout: Duration::from_secs(1),
            mode: Mode::Crdt,
        }
    }
}

/// The largest |delta| one increment may carry.
pub const MAX_DELTA: i64 = 1_000_000_000_000;
/// Longest request id and counter name accepted.
pub const MAX_ID_LEN: usize = 128;
