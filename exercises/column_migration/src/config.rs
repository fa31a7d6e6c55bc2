// PROVIDED: the tests rely on this file as it is. Read it, don't edit it;
// `cargo lab check` warns if it changes, `cargo lab reset` restores it. (The
// reference solution compiles this same file.)
//! Knobs of the migration, its phases, and what each step reports.

use std::time::Duration;

/// How the migration behaves. The defaults suit the tests and a small table;
/// the README says how to size them for 50M rows.
#[derive(Clone, Debug)]
pub struct Config {
    /// Rows per backfill batch. Each batch is one short transaction: row locks
    /// are held, and WAL is flushed, one batch at a time.
    pub batch_size: i64,
    /// Pause between two backfill batches, so the backfill leaves room for the
    /// application (and for replicas to keep up). Zero in the tests.
    pub throttle: Duration,
    /// `lock_timeout` for every DDL statement: how long a DDL may wait in the
    /// lock queue, where every writer that arrives after it waits too.
    pub lock_timeout: Duration,
    /// How many times one DDL step is tried before the migration gives up.
    pub ddl_attempts: u32,
    /// First pause after a lock timeout; it doubles on each retry, capped at 1 s.
    pub retry_backoff: Duration,
    /// Bound on every statement and transaction the migration runs, so that a
    /// database that stops answering fails the step instead of hanging it. A
    /// client-side bound (the migration stops waiting), not Postgres's own
    /// `statement_timeout` setting.
    pub statement_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            batch_size: 1_000,
            throttle: Duration::ZERO,
            lock_timeout: Duration::from_millis(100),
            ddl_attempts: 50,
            retry_backoff: Duration::from_millis(25),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// Where the migration is. Stored in `migration_progress.phase`; it moves
/// forward (except that a dirty validation withdraws `Validated`), and each
/// step checks it before doing anything it cannot undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Nothing done yet.
    Fresh,
    /// `profile_jsonb` exists (step 1).
    Expanded,
    /// The dual-write trigger is installed (step 2).
    DualWriting,
    /// Every row existing when the backfill ran has been converted (step 3).
    Backfilled,
    /// The constraint is validated and both columns agree (step 4).
    Validated,
    /// The application reads `profile_jsonb` (step 4).
    Switched,
    /// The trigger and the old column are gone; `profile` is JSONB (step 5).
    Contracted,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Fresh,
        Phase::Expanded,
        Phase::DualWriting,
        Phase::Backfilled,
        Phase::Validated,
        Phase::Switched,
        Phase::Contracted,
    ];

    /// The name stored in `migration_progress.phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Fresh => "fresh",
            Phase::Expanded => "expanded",
            Phase::DualWriting => "dual_writing",
            Phase::Backfilled => "backfilled",
            Phase::Validated => "validated",
            Phase::Switched => "switched",
            Phase::Contracted => "contracted",
        }
    }

    pub fn parse(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// What a DDL step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DdlReport {
    /// Attempts made, the successful one included (1 = no lock timeout).
    pub attempts: u32,
}

/// Sent to the progress callback after each committed batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Rows with an id up to `last_id`, i.e. rows done so far, across restarts.
    pub rows_done: i64,
    /// Rows in the table when this backfill run started.
    pub rows_total: i64,
    /// The highest id done; the backfill resumes after it.
    pub last_id: i64,
}

/// What one backfill run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackfillReport {
    /// The checkpoint this run started from (0 on a first run).
    pub resumed_from: i64,
    /// Batches this run committed (non-empty ones only).
    pub batches: u64,
    /// Rows this run changed.
    pub rows_updated: u64,
    /// Rows done in all, across restarts.
    pub rows_done: i64,
}

/// The backfill's checkpoint, as committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub last_id: i64,
    pub rows_done: i64,
}

/// A row whose `profile` text is not a JSON object (not JSON at all, or JSON
/// such as `[1]` or `null`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    pub customer_id: i64,
    pub profile: String,
    /// Why: Postgres's own message for text that is not JSON, else which kind
    /// of JSON it is instead of an object.
    pub error: String,
}

/// The outcome of step 4's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    /// Rows in the table.
    pub rows: i64,
    /// Rows whose `profile_jsonb` is set.
    pub with_json: i64,
    /// Rows in quarantine (text that is not a JSON object).
    pub quarantined: i64,
    /// Rows where the two columns disagree, or invalid text was not quarantined.
    pub mismatched: i64,
    /// Up to 100 of them, lowest ids first.
    pub mismatched_ids: Vec<i64>,
    /// Whether `customers_profile_jsonb_is_object` exists and is validated.
    pub constraint_validated: bool,
}

impl Validation {
    /// Safe to switch reads: the constraint holds for every row and nothing
    /// disagrees.
    pub fn is_clean(&self) -> bool {
        self.constraint_validated && self.mismatched == 0
    }
}
