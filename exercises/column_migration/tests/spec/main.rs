//! The column_migration spec, one module per README step.
//!
//! ```text
//! cargo test -p column_migration step3     # one step
//! cargo lab check column_migration         # all of them, with progress
//! ```
//!
//! Every test gets its own Postgres database (`LAB_POSTGRES_URL`, or Docker),
//! seeds `customers` inside Postgres, and drives the migration step by step.
//! Lock behaviour is asserted from Postgres itself (`pg_locks`,
//! `pg_stat_activity`, `xmin`, `relfilenode`), never from how fast anything ran.

mod support;

mod step1_expand;
mod step2_dual_write;
mod step3_backfill;
mod step4_validate_switch;
mod step5_contract;
mod step6_under_load;
