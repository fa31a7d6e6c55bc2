//! Step 3 — anti-entropy: every node exchanges its whole state with every peer.
//!
//! A round is: for each peer, send all my counters and receive all of theirs
//! (`POST {peer}/internal/gossip`), both sides merging. Because merging is
//! idempotent, repeating a round, or receiving a state twice, is harmless; and
//! because each exchange goes both ways, one round by every node after a
//! partition heals leaves every node with every increment (a full mesh of
//! push-pull). Talking to *every* peer, not one favourite, is what lets
//! information route around a partition: with n1–n3 cut, n3 still learns n1's
//! increments through n2.
//!
//! Rounds run periodically (`gossip_interval`) and on demand (`/admin/sync`).
//! Production systems exchange digests first and ship only what differs
//! (Merkle trees, as in Dynamo and Cassandra), and gossip to a few random peers
//! per round to bound fan-out; with five nodes, all of it is small enough to send.

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

/// One round with every peer. A peer that cannot be reached is skipped (and
/// counted): the next round tries again.
pub async fn sync_round(node: &Node) -> RoundReport {
    let mut report = RoundReport::default();
    for peer in &node.config().peers {
        match exchange_with(node, peer).await {
            Ok(()) => report.peers_reached += 1,
            Err(e) => {
                tracing::debug!(peer, error = %e, "gossip exchange failed");
                report.peers_failed += 1;
            }
        }
    }
    report
}

/// One push-pull exchange. Every step is bounded by the node's timeout — the
/// store calls as much as the peer's: a stalled peer, or a stalled database of
/// our own, costs the round at most that, and the round goes on.
async fn exchange_with(node: &Node, peer: &str) -> anyhow_like::Result<()> {
    let limit = node.config().timeout;
    let mine = Exchange {
        from: node.config().replica.clone(),
        counters: tokio::time::timeout(limit, node.store().all()).await??,
    };
    let call = node
        .http()
        .post(format!("{}/internal/gossip", peer.trim_end_matches('/')))
        .json(&mine)
        .send();
    let response = tokio::time::timeout(limit, call).await??;
    if !response.status().is_success() {
        return Err(anyhow_like::Error(format!(
            "peer answered {}",
            response.status()
        )));
    }
    let theirs: Exchange = tokio::time::timeout(limit, response.json()).await??;
    tokio::time::timeout(limit, node.store().merge_all(&theirs.counters)).await??;
    Ok(())
}

/// Run rounds forever, every `every`. The task ends when the node's runtime does.
pub fn spawn_periodic(node: Node, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            sync_round(&node).await;
        }
    })
}

/// A tiny error type for the exchange: its failures are only logged.
mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);
    pub type Result<T> = std::result::Result<T, Error>;

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl<E: std::error::Error> From<E> for Error {
        fn from(e: E) -> Error {
            Error(e.to_string())
        }
    }
}
