//! Step 3 — anti-entropy: exchange whole states with peers.
//!
//! A round: for each peer, `POST {peer}/internal/gossip` with an [`Exchange`]
//! of all my counters; the peer merges them and answers with all of its own,
//! which I merge. Unreachable peers are skipped (and counted); the next round
//! tries again. Every call is bounded by the node's timeout: the call to the
//! peer, reading its answer, and my own store calls (`all`, `merge_all`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crdt::PnCounter;
use crate::node::Node;

/// What one node sends another, and gets back.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Exchange {
    pub from: String,
    pub counters: BTreeMap<String, PnCounter>,
}

/// How a round went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundReport {
    pub peers_reached: usize,
    pub peers_failed: usize,
}

/// One round of exchanges with peers.
pub async fn sync_round(node: &Node) -> RoundReport {
    // TODO(step 3)
    todo!("step 3: gossip::sync_round — see README step 3")
}

/// Run a round every `every`, forever.
pub fn spawn_periodic(node: Node, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    // TODO(step 3)
    todo!("step 3: gossip::spawn_periodic — see README step 3")
}
