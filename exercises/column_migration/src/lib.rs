//! # VARCHAR → JSONB on a big table, with traffic running
//!
//! Read `README.md` next to this crate (the question and the steps are there),
//! then make the tests pass step by step:
//!
//! ```text
//! cargo test -p column_migration step1     # or: cargo lab check column_migration
//! ```
//!
//! | step | in [`migration`]                          | what you build                                        |
//! |------|-------------------------------------------|-------------------------------------------------------|
//! | 1    | `expand`, `ddl`                           | add the column; lock_timeout and retry for every DDL   |
//! | 2    | `install_dual_write`, `quarantined`       | the dual-write trigger; bad JSON quarantined           |
//! | 3    | `backfill`, `checkpoint`                  | short, checkpointed, resumable batches                 |
//! | 4    | `validate`, `switch_reads`                | NOT VALID + VALIDATE; compare; switch reads             |
//! | 5    | `contract`                                | drop and rename, atomically, under lock_timeout        |
//! | 6    | (all of it)                               | the whole migration under load                         |
//!
//! [`config`], [`error`], [`schema`], [`workload`] and `bookkeeping.rs` are provided. Every place
//! you need to change is marked `// TODO(step N)`.

// The skeleton leaves fields and parameters unused until you write the bodies.
// `expect` rather than `allow`: once your code uses them all, the compiler says
// this line is no longer needed, and you delete it.
#![expect(dead_code, unused_variables, unused_imports)]

mod bookkeeping;
pub mod config;
pub mod error;
pub mod migration;
pub mod schema;
pub mod workload;

pub use config::{
    BackfillReport, Checkpoint, Config, DdlReport, Phase, Progress, Quarantined, Validation,
};
pub use error::MigrationError;
pub use migration::{CONSTRAINT, Migration};
