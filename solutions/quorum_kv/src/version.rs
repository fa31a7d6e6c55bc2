//! Versions, version vectors, and what survives when replicas' versions meet.
//!
//! A version vector maps each coordinator to how many writes it has stamped
//! that a client has seen. Vector `a` *descends* from `b` when `a` has seen
//! everything `b` has (every slot at least as large). When neither descends
//! from the other they are *concurrent*.
//!
//! A version is one write (its [`Dot`]) plus what its client had seen (its
//! context). A version replaces another only if its client had seen that
//! other one; two writes whose clients had not seen each other are both kept
//! as siblings. Only the client, who knows what the values mean, can merge
//! them; the store's job is to keep both until it does.
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

/// The one write a version is: the coordinator's slot, and the counter it
/// stamped there. No two writes share a dot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dot {
    pub slot: String,
    pub counter: u64,
}

/// One value of a key: the write it is (`dot`), what the client had seen when
/// it wrote (`context`), and the coordinator's wall-clock stamp in
/// milliseconds (`ts_ms`, for last-writer-wins).
///
/// Keeping the dot apart from the context is what lets two clients write
/// through the same coordinator without one silently replacing the other: a
/// plain per-server vector would give the second write a larger counter in
/// the same slot, so it would look as if it had seen the first. (These are
/// Preguiça and Baquero's dotted version vectors, in their simplest form.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub value: String,
    pub dot: Dot,
    pub context: VersionVector,
    pub ts_ms: u64,
}

impl Version {
    /// Everything this version has seen, itself included: its context with
    /// its own dot.
    pub fn clock(&self) -> VersionVector {
        let mut clock = self.context.clone();
        let counter = clock.get(&self.dot.slot).max(self.dot.counter);
        clock.set(&self.dot.slot, counter);
        clock
    }

    /// Whether this version replaces `other`: it is another write, made by
    /// a client that had seen all of `other` (its context descends from
    /// `other`'s clock).
    pub fn supersedes(&self, other: &Version) -> bool {
        self.dot != other.dot && self.context.descends(&other.clock())
    }
}

/// How a replica decides between versions that meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolution {
    /// Keep every version no other supersedes: concurrent ones are siblings.
    Vectors,
    /// Keep the one version with the largest `(ts_ms, dot.slot, value)`.
    Lww,
}

/// The order versions are returned in, and LWW's order: by stamp, then by
/// the writer's slot, then by value, so every replica picks and lists the
/// same way.
fn stamp_order(a: &Version, b: &Version) -> Ordering {
    (a.ts_ms, &a.dot.slot, &a.value).cmp(&(b.ts_ms, &b.dot.slot, &b.value))
}

/// What survives of `versions` under `resolution`, in [`stamp_order`].
///
/// With vectors: every version that no other version supersedes, one of each
/// dot. With LWW: the largest by `(ts_ms, dot.slot, value)`. An empty input
/// gives an empty output.
pub fn reconcile(mut versions: Vec<Version>, resolution: Resolution) -> Vec<Version> {
    versions.sort_by(stamp_order);
    match resolution {
        Resolution::Lww => versions.pop().into_iter().collect(),
        Resolution::Vectors => {
            let mut kept: Vec<Version> = Vec::new();
            for candidate in &versions {
                let replaced = versions.iter().any(|other| other.supersedes(candidate));
                let duplicate = kept.iter().any(|k| k.dot == candidate.dot);
                if !replaced && !duplicate {
                    kept.push(candidate.clone());
                }
            }
            kept
        }
    }
}

/// The context handed to a client with `versions`: the merge of their
/// clocks. A write that carries it supersedes every one of them.
pub fn context_of(versions: &[Version]) -> VersionVector {
    versions
        .iter()
        .fold(VersionVector::new(), |acc, v| acc.merge(&v.clock()))
}
