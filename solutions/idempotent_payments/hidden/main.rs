//! The hidden tests of idempotent_payments: graded, never in a take-home bundle
//! (the candidate never sees them). One module per README step they cover,
//! named like the visible spec's (`stepN_hidden::stepN_…`), using the same
//! support code as the spec.
//!
//! ```text
//! cargo test -p idempotent_payments_solution --test hidden
//! ```
//!
//! Every test gets its own Postgres database (`LAB_POSTGRES_URL`, or Docker).

// The spec's own harness, shared so the two cannot drift apart. These tests use
// only part of it; the rest is not dead code, just someone else's.
#[allow(dead_code)]
#[path = "../../../exercises/idempotent_payments/tests/spec/support/mod.rs"]
mod support;

mod step1_hidden;
mod step3_hidden;
mod step4_hidden;
