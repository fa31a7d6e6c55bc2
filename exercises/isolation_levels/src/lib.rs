//! # Isolation levels, each shown by the bug it prevents
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p isolation_levels step1     # or: cargo lab check isolation_levels
//! ```
//!
//! | step | yours                                   | what you build                                              |
//! |------|-----------------------------------------|-------------------------------------------------------------|
//! | 1    | [`lock_wait`], [`anomalies`]            | ask Postgres who waits for a lock; the ten schedules; classify each run |
//! | 2    | [`fixes`]                               | the atomic UPDATE, FOR UPDATE, REPEATABLE READ + retry       |
//! | 3    | [`roster`]                              | write skew fixed with SERIALIZABLE and by locking what you read |
//! | 4    | [`retry`]                               | `run_serializable`, the backoff, `place_order` with an outbox |
//! | 5    | [`facts`], and the MariaDB arms of [`lock_wait`] and [`fixes`] | the same on InnoDB, and knowing when REPEATABLE READ is not enough |
//! | 6    | [`report`]                              | a read-only report that is never wrong and aborts nobody    |
//!
//! Provided (read them, do not change them): [`db`], [`scheduler`], [`gate`],
//! [`schema`] (and `sql/`), [`seats`], [`oncall`], [`orders`], [`receipts`].
//! Every place you need to change is marked `// TODO(step N)`.

// The skeleton leaves parameters and imports unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(unused_variables, unused_imports, unused_mut)]

pub mod db;
pub mod gate;
pub mod oncall;
pub mod orders;
pub mod receipts;
pub mod scheduler;
pub mod schema;
pub mod seats;

pub mod anomalies;
pub mod facts;
pub mod fixes;
pub mod lock_wait;
pub mod report;
pub mod retry;
pub mod roster;

pub use anomalies::{Anomaly, Outcome, classify, schedule};
pub use db::{Db, DbFailure, Engine, Level};
pub use facts::{ServerFacts, server_facts};
pub use fixes::{AtomicUpdate, ForUpdate, RepeatableReadRetry};
pub use gate::Gate;
pub use oncall::{OffCall, RosterError};
pub use report::{BatchTotal, ReportError, batch_report};
pub use retry::{
    Committed, OrderError, RetryError, RetryPolicy, is_retryable, place_order, run_serializable,
};
pub use roster::{Fix, go_off_call};
pub use scheduler::{Run, Schedule, StepRecord, StepResult};
pub use seats::{BuyError, Inventory, Purchase, ReadModifyWrite};
