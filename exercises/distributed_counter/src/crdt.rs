//! Step 1 — the PN-counter, a state-based CRDT.
//!
//! Every replica owns an increment slot (`p`) and a decrement slot (`n`), both
//! only ever growing; the value is Σp − Σn. Merging two states must be
//! commutative, associative and idempotent, so that replicas receiving each
//! other's states in any order, any number of times, end identical without
//! losing or double-counting anything.
//!
//! The session token (step 4 uses it) is the state written as
//! `replica:incs:decs`, comma separated, e.g. `n1:5:0,n2:3:1`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A replica's identity, e.g. `"n1"`.
pub type ReplicaId = String;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnCounter {
    /// Increments per replica.
    pub p: BTreeMap<ReplicaId, u64>,
    /// Decrements per replica (as positive amounts).
    pub n: BTreeMap<ReplicaId, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    #[error("the delta must not be zero")]
    ZeroDelta,
    #[error("applying this delta would overflow the counter")]
    Overflow,
}

impl PnCounter {
    /// Record `delta` on `replica`'s slots. Zero, or anything that would
    /// overflow a slot or the value, is an error and changes nothing.
    pub fn apply(&mut self, replica: &str, delta: i64) -> Result<(), CounterError> {
        // TODO(step 1)
        todo!("step 1: PnCounter::apply — see README step 1")
    }

    /// Σp − Σn.
    pub fn value(&self) -> i64 {
        // TODO(step 1)
        todo!("step 1: PnCounter::value — see README step 1")
    }

    /// Combine `other` into `self`: commutative, associative, idempotent.
    pub fn merge(&mut self, other: &PnCounter) {
        // TODO(step 1)
        todo!("step 1: PnCounter::merge — see README step 1")
    }

    /// True if this state contains everything `other` does (every slot ≥).
    pub fn dominates(&self, other: &PnCounter) -> bool {
        // TODO(step 1)
        todo!("step 1: PnCounter::dominates — see README step 1")
    }

    /// `replica:incs:decs,…` (see the module docs).
    pub fn to_token(&self) -> String {
        // TODO(step 1)
        todo!("step 1: PnCounter::to_token — see README step 1")
    }

    /// Parse a token; `None` if it is malformed.
    pub fn from_token(token: &str) -> Option<PnCounter> {
        // TODO(step 1)
        todo!("step 1: PnCounter::from_token — see README step 1")
    }
}
