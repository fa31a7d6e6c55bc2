//! # Isolation levels, each shown by the bug it prevents — reference
//!
//! | step | module(s)                          | guarantee                                                          |
//! |------|------------------------------------|--------------------------------------------------------------------|
//! | 1    | [`anomalies`], [`lock_wait`]       | each anomaly runs as a schedule and is classified from what the engine did, never from the clock |
//! | 2    | [`fixes`]                          | 50 concurrent buyers never oversell: atomic UPDATE, FOR UPDATE, REPEATABLE READ + retry |
//! | 3    | [`roster`]                         | at least one doctor stays on call: SERIALIZABLE, or every row read locked |
//! | 4    | [`retry`]                          | retries 40001/40P01 only, bounded, jittered, body re-run from scratch; one email per order |
//! | 5    | [`facts`], [`fixes`] on MariaDB    | the atomic UPDATE and FOR UPDATE hold on InnoDB; REPEATABLE READ alone is known unsafe there |
//! | 6    | [`report`]                         | a read-only report that sees only states some serial order produces, and aborts nobody |

// Provided files, shared with the exercise so the two cannot drift apart.
#[path = "../../../exercises/isolation_levels/src/db.rs"]
pub mod db;
#[path = "../../../exercises/isolation_levels/src/gate.rs"]
pub mod gate;
#[path = "../../../exercises/isolation_levels/src/oncall.rs"]
pub mod oncall;
#[path = "../../../exercises/isolation_levels/src/orders.rs"]
pub mod orders;
#[path = "../../../exercises/isolation_levels/src/receipts.rs"]
pub mod receipts;
#[path = "../../../exercises/isolation_levels/src/scheduler.rs"]
pub mod scheduler;
#[path = "../../../exercises/isolation_levels/src/schema.rs"]
pub mod schema;
#[path = "../../../exercises/isolation_levels/src/seats.rs"]
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
