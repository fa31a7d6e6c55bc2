//! The hidden tests of isolation_levels: graded, never in a take-home bundle
//! (the candidate never sees them). Same step naming as the visible spec, one
//! module per step, `stepN_hidden::stepN_…`.
//!
//! ```text
//! cargo test -p isolation_levels_solution --test hidden
//! ```
//!
//! They reuse the visible spec's `support` (a fresh database per test on each
//! engine) and check README promises the visible tests leave open.

// Not every helper of the visible spec's support is used here.
#[allow(dead_code)]
#[path = "../../../exercises/isolation_levels/tests/spec/support/mod.rs"]
mod support;

mod step2_hidden;
mod step3_hidden;
mod step4_hidden;
mod step6_hidden;
