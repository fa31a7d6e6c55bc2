// YOURS: the candidate's file. Steps are marked `// TODO(step N)`.
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
        // TODO(step 1): every slot's larger counter, over the slots of both.
        todo!("step 1")
    }

    /// How `self` relates to `other`, slot by slot over the union of slots.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        // TODO(step 1): compare slot by slot over the union of both vectors' slots (a missing slot is 0): less somewhere and greater somewhere is Concurrent.
        todo!("step 1")
    }

    /// `self` has seen everything `other` has (After or Equal).
    pub fn descends(&self, other: &VersionVector) -> bool {
        // TODO(step 1): After or Equal.
        todo!("step 1")
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
        // TODO(step 1): the context, with the dot's slot raised to the dot's counter.
        todo!("step 1")
    }

    /// Whether this version replaces `other`: it is another write, made by
    /// a client that had seen all of `other` (its context descends from
    /// `other`'s clock).
    pub fn supersedes(&self, other: &Version) -> bool {
        // TODO(step 1): another dot, and self's context descends from other's clock.
        todo!("step 1")
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

/// What survives of `versions` under `resolution`, sorted by `(ts_ms, dot.slot, value)`.
///
/// With vectors: every version that no other version supersedes, one of each
/// dot. With LWW: the largest by `(ts_ms, dot.slot, value)`. An empty input
/// gives an empty output.
pub fn reconcile(versions: Vec<Version>, resolution: Resolution) -> Vec<Version> {
    // TODO(step 1): Vectors: keep every version no other supersedes, one per dot, sorted by (ts_ms, dot.slot, value).
    // TODO(step 3): Lww: keep only the one largest (ts_ms, dot.slot, value).
    todo!("step 1")
}

/// The context handed to a client with `versions`: the merge of their
/// clocks. A write that carries it supersedes every one of them.
pub fn context_of(versions: &[Version]) -> VersionVector {
    // TODO(step 1): the merge of every version's clock.
    todo!("step 1")
}
