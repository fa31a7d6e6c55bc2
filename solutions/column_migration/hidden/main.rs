//! The hidden tests of column_migration: graded, never in a take-home bundle
//! (the candidate never sees them). Same step naming as the visible spec, one
//! module per step, `stepN_hidden::stepN_…`.
//!
//! ```text
//! cargo test -p column_migration_solution --test hidden
//! ```
//!
//! They reuse the visible spec's `support` (a seeded database per test, the
//! fast config) and check README promises the visible tests leave open.

// Not every helper of the visible spec's support is used here.
#[allow(dead_code)]
#[path = "../../../exercises/column_migration/tests/spec/support/mod.rs"]
mod support;

mod step3_hidden;
mod step4_hidden;
mod step5_hidden;
