//! Step 1 — the PN-counter, a state-based CRDT.
//!
//! ## The data type
//! Every replica owns two slots: how much it has incremented (`p`) and how much
//! it has decremented (`n`), both only ever growing. The value is the sum of all
//! `p` minus the sum of all `n`. Two states merge by taking, slot by slot, the
//! larger value.
//!
//! ## Why this is enough
//! Per-slot maximum is commutative, associative and idempotent, so replicas
//! that receive each other's states in any order, any number of times, end up
//! identical (strong eventual consistency), and nothing acknowledged is lost:
//! a slot is written only by its own replica, so the largest value of a slot is
//! its newest. Two things that look equivalent are not:
//! * summing slots on merge counts a state delivered twice twice;
//! * keeping one number per node and taking the larger loses whichever
//!   increments the smaller one had;
//! * recording a decrement by lowering `p` is undone by the next merge (max
//!   keeps the old, higher `p`) — hence the separate `n`.
//!
//! ## The session token
//! A state also tells how much of each replica's history it contains: it is a
//! version vector. A client that keeps the state it last saw (its token) can
//! ask any replica for an answer at least that new: the replica merges the
//! token into its own state before answering (see `node`).

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
    /// Record `delta` (positive: increment, negative: decrement) on `replica`'s slots.
    pub fn apply(&mut self, replica: &str, delta: i64) -> Result<(), CounterError> {
        if delta == 0 {
            return Err(CounterError::ZeroDelta);
        }
        // Work on a copy and keep it only if every check passes: a refused
        // delta must leave no trace.
        let mut next = self.clone();
        let slots = if delta > 0 { &mut next.p } else { &mut next.n };
        let slot = slots.entry(replica.to_string()).or_insert(0);
        *slot = slot
            .checked_add(delta.unsigned_abs())
            .ok_or(CounterError::Overflow)?;
        // The totals must stay representable as the i64 value is computed from them.
        if i64::try_from(next.total(&next.p)).is_err()
            || i64::try_from(next.total(&next.n)).is_err()
        {
            return Err(CounterError::Overflow);
        }
        *self = next;
        Ok(())
    }

    /// Sum of increments minus sum of decrements.
    pub fn value(&self) -> i64 {
        let value = self.total(&self.p) as i128 - self.total(&self.n) as i128;
        value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// Per-slot maximum. Commutative, associative, idempotent.
    pub fn merge(&mut self, other: &PnCounter) {
        for (slots, theirs) in [(&mut self.p, &other.p), (&mut self.n, &other.n)] {
            for (replica, &value) in theirs {
                let mine = slots.entry(replica.clone()).or_insert(0);
                *mine = (*mine).max(value);
            }
        }
    }

    /// True if this state contains everything `other` does (every slot ≥).
    pub fn dominates(&self, other: &PnCounter) -> bool {
        let covers = |mine: &BTreeMap<ReplicaId, u64>, theirs: &BTreeMap<ReplicaId, u64>| {
            theirs
                .iter()
                .all(|(r, v)| mine.get(r).copied().unwrap_or(0) >= *v)
        };
        covers(&self.p, &other.p) && covers(&self.n, &other.n)
    }

    /// The session token: `replica:incs:decs` per replica, comma separated,
    /// e.g. `n1:5:0,n2:3:1`.
    pub fn to_token(&self) -> String {
        let replicas: std::collections::BTreeSet<&ReplicaId> =
            self.p.keys().chain(self.n.keys()).collect();
        replicas
            .into_iter()
            .map(|r| {
                let p = self.p.get(r).copied().unwrap_or(0);
                let n = self.n.get(r).copied().unwrap_or(0);
                format!("{r}:{p}:{n}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parse a token made by [`PnCounter::to_token`]; `None` if malformed.
    pub fn from_token(token: &str) -> Option<PnCounter> {
        let mut counter = PnCounter::default();
        for part in token.split(',').filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let (replica, p, n) = (fields.next()?, fields.next()?, fields.next()?);
            if fields.next().is_some() || replica.is_empty() {
                return None;
            }
            let (p, n): (u64, u64) = (p.parse().ok()?, n.parse().ok()?);
            if p > 0 {
                counter.p.insert(replica.to_string(), p);
            }
            if n > 0 {
                counter.n.insert(replica.to_string(), n);
            }
        }
        Some(counter)
    }

    fn total(&self, slots: &BTreeMap<ReplicaId, u64>) -> u128 {
        slots.values().map(|v| *v as u128).sum()
    }
}
