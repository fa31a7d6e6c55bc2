//! Hidden tests of slow_query: graded, never shipped in a take-home bundle.
//! They use the spec's own support (the same seeded copies, the same reading
//! of plans).

// Not every helper of the visible spec's support is used here.
#[allow(dead_code)]
#[path = "../../../exercises/slow_query/tests/spec/support/mod.rs"]
mod support;

mod step1_hidden;
mod step4_hidden;
mod step5_hidden;
