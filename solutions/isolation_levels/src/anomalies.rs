//! Step 1: the classic anomalies as schedules you can run, and what each run
//! shows.
//!
//! Each schedule is the shortest interleaving on `test` — (1, 10), (2, 20) —
//! in which the anomaly *can* happen; whether it does is up to the engine and
//! the level. [`classify`] reads the run: first the evidence (a value seen, a
//! final state), then how the engine stood in the way.
//!
//! The order of the checks matters. Evidence first: a lost update that
//! happened after a wait is still a lost update. Then an abort: a transaction
//! the engine killed cannot have observed or lost anything. Only then a wait:
//! the engine made one session queue behind the other. Nothing at all means
//! the snapshot did the work: each transaction simply read committed data as
//! of its snapshot.

use crate::scheduler::{Run, Schedule};

/// The anomalies of Adya's and Hermitage's catalogue that two rows can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anomaly {
    /// G0, dirty write: two transactions' writes interleave on the same rows.
    DirtyWrite,
    /// G1a, aborted read: a transaction reads a write that is later rolled back.
    AbortedRead,
    /// G1b, intermediate read: it reads a value its writer later overwrote.
    IntermediateRead,
    /// G1c, circular information flow: each reads the other's uncommitted write.
    CircularInformationFlow,
    /// OTV, observed transaction vanishes: having seen T1's write, a reader
    /// then sees T2's overwrite of another row before T2 commits.
    ObservedTransactionVanishes,
    /// PMP, predicate-many-preceders: a predicate read sees a row that appeared
    /// after its transaction's first predicate read missed it.
    PredicateManyPreceders,
    /// P4, lost update: two read-modify-writes of one row; one increment is lost.
    LostUpdate,
    /// G-single, read skew: a reader sees one row before a writer and another after.
    ReadSkew,
    /// G2-item, write skew: each reads both rows and writes a different one.
    WriteSkew,
    /// G2, anti-dependency cycle over a predicate: each checks that no row
    /// matches, then inserts one that would have matched the other's check.
    PredicateWriteSkew,
}

impl Anomaly {
    pub const ALL: [Anomaly; 10] = [
        Anomaly::DirtyWrite,
        Anomaly::AbortedRead,
        Anomaly::IntermediateRead,
        Anomaly::CircularInformationFlow,
        Anomaly::ObservedTransactionVanishes,
        Anomaly::PredicateManyPreceders,
        Anomaly::LostUpdate,
        Anomaly::ReadSkew,
        Anomaly::WriteSkew,
        Anomaly::PredicateWriteSkew,
    ];
}

/// What a run of an anomaly's schedule showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The evidence is there: the anomaly happened.
    Happened,
    /// No anomaly, no abort, but a statement had to wait for another
    /// session's lock.
    PreventedByBlocking,
    /// The engine aborted a transaction (serialization failure or deadlock).
    PreventedByError,
    /// Nothing waited and nothing failed: every read came from a snapshot of
    /// committed data.
    PreventedBySnapshot,
}

/// The interleaving in which `anomaly` can happen. Step numbers (from 0) are
/// what [`classify`] reads back.
pub fn schedule(anomaly: Anomaly) -> Schedule {
    let s = Schedule::new();
    match anomaly {
        Anomaly::DirtyWrite => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("UPDATE test SET value = 11 WHERE id = 1")
            .t2("UPDATE test SET value = 12 WHERE id = 1")
            .t1("UPDATE test SET value = 21 WHERE id = 2")
            .t1("COMMIT")
            .t2("UPDATE test SET value = 22 WHERE id = 2")
            .t2("COMMIT"),
        Anomaly::AbortedRead => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("UPDATE test SET value = 101 WHERE id = 1")
            .t2("SELECT value FROM test WHERE id = 1") // 3
            .t1("ROLLBACK")
            .t2("SELECT value FROM test WHERE id = 1") // 5
            .t2("COMMIT"),
        Anomaly::IntermediateRead => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("UPDATE test SET value = 101 WHERE id = 1")
            .t2("SELECT value FROM test WHERE id = 1") // 3
            .t1("UPDATE test SET value = 11 WHERE id = 1")
            .t1("COMMIT")
            .t2("SELECT value FROM test WHERE id = 1") // 6
            .t2("COMMIT"),
        Anomaly::CircularInformationFlow => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("UPDATE test SET value = 11 WHERE id = 1")
            .t2("UPDATE test SET value = 22 WHERE id = 2")
            .t1("SELECT value FROM test WHERE id = 2") // 4
            .t2("SELECT value FROM test WHERE id = 1") // 5
            .t1("COMMIT")
            .t2("COMMIT"),
        Anomaly::ObservedTransactionVanishes => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t3("BEGIN")
            .t1("UPDATE test SET value = 11 WHERE id = 1")
            .t1("UPDATE test SET value = 19 WHERE id = 2")
            .t2("UPDATE test SET value = 12 WHERE id = 1")
            .t1("COMMIT")
            .t3("SELECT value FROM test WHERE id = 1") // 7
            .t2("UPDATE test SET value = 18 WHERE id = 2")
            .t3("SELECT value FROM test WHERE id = 2") // 9
            .t2("COMMIT")
            .t3("COMMIT"),
        Anomaly::PredicateManyPreceders => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("SELECT id FROM test WHERE value = 30")
            .t2("INSERT INTO test (id, value) VALUES (3, 30)")
            .t2("COMMIT")
            .t1("SELECT id FROM test WHERE value % 3 = 0") // 5
            .t1("COMMIT"),
        Anomaly::LostUpdate => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("SELECT value FROM test WHERE id = 1")
            .t2("SELECT value FROM test WHERE id = 1")
            // Each adds 1 to the 10 it read.
            .t1("UPDATE test SET value = 11 WHERE id = 1")
            .t2("UPDATE test SET value = 11 WHERE id = 1")
            .t1("COMMIT") // 6
            .t2("COMMIT"), // 7
        Anomaly::ReadSkew => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("SELECT value FROM test WHERE id = 1") // 2
            .t2("SELECT value FROM test WHERE id = 1")
            .t2("SELECT value FROM test WHERE id = 2")
            .t2("UPDATE test SET value = 12 WHERE id = 1")
            .t2("UPDATE test SET value = 18 WHERE id = 2")
            .t2("COMMIT")
            .t1("SELECT value FROM test WHERE id = 2") // 8
            .t1("COMMIT"),
        Anomaly::WriteSkew => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("SELECT value FROM test WHERE id IN (1, 2)")
            .t2("SELECT value FROM test WHERE id IN (1, 2)")
            .t1("UPDATE test SET value = 11 WHERE id = 1")
            .t2("UPDATE test SET value = 21 WHERE id = 2")
            .t1("COMMIT") // 6
            .t2("COMMIT"), // 7
        Anomaly::PredicateWriteSkew => s
            .t1("BEGIN")
            .t2("BEGIN")
            .t1("SELECT id FROM test WHERE value % 3 = 0")
            .t2("SELECT id FROM test WHERE value % 3 = 0")
            .t1("INSERT INTO test (id, value) VALUES (3, 30)")
            .t2("INSERT INTO test (id, value) VALUES (4, 42)")
            .t1("COMMIT") // 6
            .t2("COMMIT"), // 7
    }
}

/// What `run`, a run of `schedule(anomaly)`, shows.
pub fn classify(anomaly: Anomaly, run: &Run) -> Outcome {
    if happened(anomaly, run) {
        Outcome::Happened
    } else if run
        .steps
        .iter()
        .enumerate()
        .any(|(i, _)| run.failure(i).is_some_and(|f| f.is_concurrency_abort()))
    {
        Outcome::PreventedByError
    } else if run.steps.iter().any(|s| s.blocked) {
        Outcome::PreventedByBlocking
    } else {
        Outcome::PreventedBySnapshot
    }
}

/// The evidence, anomaly by anomaly, in the step numbers of [`schedule`].
fn happened(anomaly: Anomaly, run: &Run) -> bool {
    match anomaly {
        // A mix of the two transactions' writes survived.
        Anomaly::DirtyWrite => matches!(
            (run.final_value(1), run.final_value(2)),
            (Some(11), Some(22)) | (Some(12), Some(21))
        ),
        // T2 saw the write that was rolled back.
        Anomaly::AbortedRead => run.values(3).contains(&101) || run.values(5).contains(&101),
        // T2 saw the value T1 replaced before committing.
        Anomaly::IntermediateRead => run.values(3).contains(&101) || run.values(6).contains(&101),
        // Each saw the other's uncommitted write.
        Anomaly::CircularInformationFlow => {
            run.values(4).contains(&22) && run.values(5).contains(&11)
        }
        // T3 saw T1's x, then T2's y while T2 had not committed.
        Anomaly::ObservedTransactionVanishes => {
            run.values(7).contains(&11) && run.values(9).contains(&18)
        }
        // T1's second predicate read saw the row its first one missed.
        Anomaly::PredicateManyPreceders => !run.values(5).is_empty(),
        // Both increments committed, and the row went up by one.
        Anomaly::LostUpdate => {
            run.succeeded(6) && run.succeeded(7) && run.final_value(1) == Some(11)
        }
        // T1 saw x before T2 and y after it.
        Anomaly::ReadSkew => run.values(2).contains(&10) && run.values(8).contains(&18),
        // Both committed a write decided on the other's old value.
        Anomaly::WriteSkew => run.succeeded(6) && run.succeeded(7),
        // Both committed, and both rows they added match the predicate each
        // checked was empty: neither transaction's check still holds.
        Anomaly::PredicateWriteSkew => {
            run.succeeded(6)
                && run.succeeded(7)
                && run.final_rows.iter().filter(|(_, v)| v % 3 == 0).count() == 2
        }
    }
}
