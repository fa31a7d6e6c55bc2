//! Versions, version vectors, and what survives when replicas' versions meet.
//!
//! A version vector maps each coordinator to how many writes it has stamped
//! that this version has seen. Version `a` *descends* from `b` when `a` has
//! seen everything `b` has (every slot at least as large). When neither
//! descends from the other they are *concurrent*: two writes made without
//! either knowing of the other. Only the client, who knows what the values
//! mean, can merge them; the store's job is to keep both (siblings) until it
//! does.
//!
//! Last-writer-wins instead keeps the version with the larger wall-clock
//! stamp. It is simple and needs no client help, and it silently drops a
//! write whenever two are concurrent, or whenever a clock runs fast (step 3
//! shows both).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A map from coordinator name to counter. A missing slot is zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionVector(BTreeMap<String, u64>);

/// How one version vector relates to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    /// `self` has seen strictly less: `other` descends from it.
    Before,
    /// `self` has seen strictly more.
    After,
    Equal,
    /// Each has seen something the other has not.
    Concurrent,
}

impl VersionVector {
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// A vector from `(slot, counter)` pairs (a later pair for the same slot wins).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> VersionVector {
        VersionVector(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The counter of `slot`; zero when absent.
    pub fn get(&self, slot: &str) -> u64 {
        self.0.get(slot).copied().unwrap_or(0)
    }

    /// Set `slot` to `counter`.
    pub fn set(&mut self, slot: &str, counter: u64) {
        self.0.insert(slot.to_string(), counter);
    }

    /// Every slot's larger counter: what a version that has seen both has seen.
    pub fn merge(&self, other: &VersionVector) -> VersionVector {
        let mut merged = self.0.clone();
        for (slot, &counter) in &other.0 {
            let mine = merged.entry(slot.clone()).or_insert(0);
            *mine = (*mine).max(counter);
        }
        VersionVector(merged)
    }

    /// How `self` relates to `other`, slot by slot over the union of slots.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let (mut less, mut greater) = (false, false);
        for slot in self.0.keys().chain(other.0.keys()) {
            match self.get(slot).cmp(&other.get(slot)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// `self` has seen everything `other` has (After or Equal).
    pub fn descends(&self, other: &VersionVector) -> bool {
        matches!(self.compare(other), Causality::After | Causality::Equal)
    }
}

/// One value of a key with what it has seen (`clock`), the coordinator's
/// wall-clock stamp in milliseconds (`ts_ms`, for last-writer-wins) and the
/// coordinator that stamped it (`writer`, the tie-breaker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub value: String,
    pub clock: VersionVector,
    pub ts_ms: u64,
    pub writer: String,
}

/// How a replica decides between versions that meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// Keep every version no other descends from: concurrent ones are siblings.
    Vectors,
    /// Keep the one version with the largest `(ts_ms, writer)`.
    Lww,
}

/// The order versions are returned in, and LWW's order: by stamp, then by
/// writer, then by value, so every replica picks and lists the same way.
fn stamp_order(a: &Version, b: &Version) -> Ordering {
    (a.ts_ms, &a.writer, &a.value).cmp(&(b.ts_ms, &b.writer, &b.value))
}

/// What survives of `versions` under `resolution`, in [`stamp_order`].
///
/// With vectors: every version that no other version strictly descends from,
/// one of each clock. With LWW: the largest by `(ts_ms, writer, value)`.
/// An empty input gives an empty output.
pub fn reconcile(mut versions: Vec<Version>, resolution: Resolution) -> Vec<Version> {
    versions.sort_by(stamp_order);
    match resolution {
        Resolution::Lww => versions.pop().into_iter().collect(),
        Resolution::Vectors => {
            let mut kept: Vec<Version> = Vec::new();
            // Largest stamp first, so that of two versions with one clock the
            // one kept is the same on every replica.
            for candidate in versions.into_iter().rev() {
                let superseded = kept.iter().any(|k| k.clock.descends(&candidate.clock));
                if superseded {
                    continue;
                }
                kept.retain(|k| candidate.clock.compare(&k.clock) != Causality::After);
                kept.push(candidate);
            }
            kept.sort_by(stamp_order);
            kept
        }
    }
}

/// The context handed to a client with `versions`: the merge of their clocks.
/// A write that carries it supersedes every one of them.
pub fn context_of(versions: &[Version]) -> VersionVector {
    versions
        .iter()
        .fold(VersionVector::new(), |acc, v| acc.merge(&v.clock))
}
