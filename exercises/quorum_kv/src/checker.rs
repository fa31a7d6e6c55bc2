// YOURS: the candidate's file. Steps are marked `// TODO(step N)`.
//! A linearizability checker for a key-value register: Wing and Gong's
//! search, with Lowe's memoisation, one key at a time.
//!
//! A history is linearizable when every operation can be given one instant
//! between its invocation and its completion such that, in the order of those
//! instants, every read returns the value of the last write before it. Keys
//! are independent registers, so each key's history is checked alone (which
//! is also what keeps the search small).
//!
//! The search: from the state "these operations are already placed, and the
//! register holds v", any operation not yet placed may go next if it was
//! invoked before every unplaced operation's completion (otherwise some
//! operation finished before it started, and must come first). A write sets
//! v; a read may go next only if it saw v. When every completed operation is
//! placed, the history is linearizable. A state reached twice is searched once
//! (the memo), which turns an exponential search into one bounded by the
//! number of distinct (placed set, value) pairs.
//!
//! Outcomes: `Ok` operations must be placed. `Fail` ones certainly did not
//! happen, and are dropped. `Info` writes may or may not have happened: they
//! never complete (any instant after their invocation will do) and need not be
//! placed at all. An `Info` read tells nothing, and is dropped. An operation
//! still pending at the end of the history is treated as `Info`.

use std::collections::{HashMap, HashSet};

use crate::error::KvError;
use crate::history::{Call, Event};

/// One operation of one key, paired from its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub client: usize,
    pub call: Call,
    /// For a completed read, what it saw.
    pub read: Option<String>,
    /// Index of its invocation in the history.
    pub invoked: usize,
    /// Index of its completion; `None` for an unknown outcome (`Info`, or
    /// still pending at the end).
    pub completed: Option<usize>,
}

/// Why a history is not linearizable: the key, and the operations of the
/// shortest prefix of that key's history that cannot be linearized, in
/// invocation order. Its last completed operation is the one that cannot be
/// placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    pub key: String,
    pub ops: Vec<Operation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    Violation(Counterexample),
}

/// Check `history`. A malformed history (a completion with no invocation
/// pending, a second invocation by a client whose first is pending) is a
/// [`KvError::BadHistory`]. Keys are checked in the order they first appear;
/// the first violation found is reported.
pub fn check(history: &[Event]) -> Result<Verdict, KvError> {
    // TODO(step 5): pair invocations with completions per key (a malformed history is BadHistory), drop failed operations and reads of unknown outcome, search each key for a linearization (memoise (placed set, value)), and report the first key, in order of first appearance, that has none, with its shortest failing prefix.
    todo!("step 5")
}
