//! The idempotent_payments spec, one module per README step.
//!
//! ```text
//! cargo test -p idempotent_payments step3     # one step
//! cargo lab check idempotent_payments         # all of them, with progress
//! ```
//!
//! Every test gets its own Postgres database (`LAB_POSTGRES_URL`, or Docker).
//! The same files test the reference (`cargo test -p idempotent_payments_solution`).

mod support;

mod step1_api;
mod step2_ledger;
mod step3_idempotency;
mod step4_crash_recovery;
mod step5_signatures;
