//! The hidden tests of distributed_counter: graded, never in a take-home bundle
//! (the candidate never sees them). Same step naming as the visible spec, one
//! `stepN_hidden` module per step, each test a README promise the visible spec
//! does not check (or checks only weakly).
//!
//! ```text
//! cargo test -p distributed_counter_solution --test hidden
//! ```
//!
//! They reuse the visible spec's support module (the cluster, its fault
//! proxies, the token parser), compiled here as it is.

// Not every helper of the visible spec is used by the hidden tests.
#[allow(dead_code)]
#[path = "../../../exercises/distributed_counter/tests/spec/support/mod.rs"]
mod support;

mod step1_hidden;
mod step2_hidden;
mod step3_hidden;
mod step5_hidden;
