//! Step 1: the classic anomalies as schedules you can run, and what each run
//! shows. The README's step 1 says what each anomaly is and how to classify.

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

/// The interleaving in which `anomaly` can happen, on `test` holding (1, 10)
/// and (2, 20). Step numbers (from 0) are what [`classify`] reads back.
pub fn schedule(anomaly: Anomaly) -> Schedule {
    // TODO(step 1): one schedule per anomaly, e.g.
    //   Schedule::new().t1("BEGIN").t2("BEGIN").t1("UPDATE test SET value = 11 WHERE id = 1")…
    // Use only statements both engines accept: the same schedules run on
    // MariaDB in step 5.
    todo!("step 1: the schedule for {anomaly:?} (README step 1)")
}

/// What `run`, a run of `schedule(anomaly)`, shows.
pub fn classify(anomaly: Anomaly, run: &Run) -> Outcome {
    // TODO(step 1): first the evidence of this anomaly in `run` (values read,
    // commits that succeeded, the final table), then an abort
    // (DbFailure::is_concurrency_abort), then a wait (StepRecord::blocked).
    todo!("step 1: classify the run of {anomaly:?} (README step 1)")
}
