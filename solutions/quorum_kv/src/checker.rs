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
    let per_key = pair(history)?;
    for (key, ops) in per_key {
        if !linearizable(&ops) {
            let ops = shortest_failing_prefix(ops);
            return Ok(Verdict::Violation(Counterexample { key, ops }));
        }
    }
    Ok(Verdict::Linearizable)
}

/// Pair invocations with completions, per key in first-appearance order.
/// Failed operations and reads of unknown outcome are dropped here.
fn pair(history: &[Event]) -> Result<Vec<(String, Vec<Operation>)>, KvError> {
    let mut keys: Vec<(String, Vec<Operation>)> = Vec::new();
    let mut key_index: HashMap<String, usize> = HashMap::new();
    // client -> (key index, position in that key's ops)
    let mut pending: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut dropped: HashSet<(usize, usize)> = HashSet::new();
    for (at, event) in history.iter().enumerate() {
        match event {
            Event::Invoke { client, key, call } => {
                if pending.contains_key(client) {
                    return Err(KvError::BadHistory(format!(
                        "event {at}: client {client} invokes while its previous operation is pending"
                    )));
                }
                let k = *key_index.entry(key.clone()).or_insert_with(|| {
                    keys.push((key.clone(), Vec::new()));
                    keys.len() - 1
                });
                keys[k].1.push(Operation {
                    client: *client,
                    call: call.clone(),
                    read: None,
                    invoked: at,
                    completed: None,
                });
                pending.insert(*client, (k, keys[k].1.len() - 1));
            }
            Event::Ok { client, read } => {
                let (k, i) = take(&mut pending, *client, at)?;
                let op = &mut keys[k].1[i];
                op.completed = Some(at);
                if op.call == Call::Read {
                    op.read = read.clone();
                }
            }
            Event::Fail { client } => {
                let place = take(&mut pending, *client, at)?;
                dropped.insert(place);
            }
            Event::Info { client } => {
                let (k, i) = take(&mut pending, *client, at)?;
                if keys[k].1[i].call == Call::Read {
                    dropped.insert((k, i));
                }
            }
        }
    }
    // Reads still pending at the end tell nothing either.
    for &(k, i) in pending.values() {
        if keys[k].1[i].call == Call::Read {
            dropped.insert((k, i));
        }
    }
    Ok(keys
        .into_iter()
        .enumerate()
        .map(|(k, (key, ops))| {
            let kept = ops
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !dropped.contains(&(k, *i)))
                .map(|(_, op)| op)
                .collect();
            (key, kept)
        })
        .collect())
}

fn take(
    pending: &mut HashMap<usize, (usize, usize)>,
    client: usize,
    at: usize,
) -> Result<(usize, usize), KvError> {
    pending.remove(&client).ok_or_else(|| {
        KvError::BadHistory(format!(
            "event {at}: client {client} completes an operation it never invoked"
        ))
    })
}

/// The ops of the shortest prefix (by event index) that cannot be linearized.
/// Linearizability survives taking a prefix, so the failing prefixes are all
/// those past some point, and a binary search finds it.
fn shortest_failing_prefix(ops: Vec<Operation>) -> Vec<Operation> {
    let cut = |end: usize| -> Vec<Operation> {
        ops.iter()
            .filter(|op| op.invoked < end)
            .filter_map(|op| match op.completed {
                Some(c) if c < end => Some(op.clone()),
                // Cut before its completion: pending, so an unknown outcome.
                _ if op.call == Call::Read => None,
                _ => Some(Operation {
                    completed: None,
                    ..op.clone()
                }),
            })
            .collect()
    };
    let last = ops
        .iter()
        .map(|op| op.completed.unwrap_or(op.invoked) + 1)
        .max()
        .unwrap_or(0);
    let (mut lo, mut hi) = (0, last);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if linearizable(&cut(mid)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut failing = cut(hi);
    failing.sort_by_key(|op| op.invoked);
    failing
}

/// Whether one key's operations can be linearized.
fn linearizable(ops: &[Operation]) -> bool {
    let mut ops: Vec<&Operation> = ops.iter().collect();
    ops.sort_by_key(|op| op.invoked);
    let must: usize = ops.iter().filter(|op| op.completed.is_some()).count();
    let ends: Vec<usize> = ops
        .iter()
        .map(|op| op.completed.unwrap_or(usize::MAX))
        .collect();
    let words = ops.len().div_ceil(64).max(1);
    let mut seen: HashSet<(Vec<u64>, Option<String>)> = HashSet::new();
    // Depth-first, with an explicit stack: (placed set, value, placed ok count).
    let mut stack: Vec<(Vec<u64>, Option<String>, usize)> = vec![(vec![0; words], None, 0)];
    while let Some((placed, value, done)) = stack.pop() {
        if done == must {
            return true;
        }
        if !seen.insert((placed.clone(), value.clone())) {
            continue;
        }
        let is_placed = |i: usize| placed[i / 64] & (1 << (i % 64)) != 0;
        // The earliest completion among unplaced operations bounds which may
        // go next. Ops are sorted by invocation, and one invoked after that
        // completion can neither go next nor lower it, so the scan stops there.
        let mut earliest = usize::MAX;
        let mut candidates = Vec::new();
        for i in 0..ops.len() {
            if ops[i].invoked > earliest {
                break;
            }
            if is_placed(i) {
                continue;
            }
            candidates.push(i);
            earliest = earliest.min(ends[i]);
        }
        for i in candidates {
            if ops[i].invoked > earliest {
                continue;
            }
            let next_value = match &ops[i].call {
                Call::Write(v) => Some(v.clone()),
                Call::Read if ops[i].read == value => value.clone(),
                Call::Read => continue,
            };
            let mut next = placed.clone();
            next[i / 64] |= 1 << (i % 64);
            let done = done + usize::from(ops[i].completed.is_some());
            stack.push((next, next_value, done));
        }
    }
    false
}
